/*  devquery - indexed evaluation of device queries within scopes
    Index sets are sorted arrays of ids; a set that grows past the smallest
    one already complete is abandoned (it cannot shrink the result), so
    a selective term after a broad one costs little and a broad term
    after a selective one costs at most the selective one's size.  */

#include "proto/corelib.h"
#include "proto/opcred.h"
#include "coordinator/core/devquery.h"
#include "coordinator/core/attest.h"

bool
devquery_covers (const char *grant, const char *path)
{
    return opcred_covers (grant, path);
}

static bool
s_visible_at (const devquery_ctx_t *ctx, const char *scope)
{
    for (size_t i = 0; i < ctx->scope_count; i++)
        if (devquery_covers (ctx->scopes [i], scope))
            return true;
    return false;
}

bool
devquery_visible (const devquery_ctx_t *ctx, json_t *device)
{
    return s_visible_at (ctx, registry_device_scope (device));
}

//  --------------------------------------------------------------------------
//  Attributes of a device, as docs/query.md lists them

const char *
devquery_attr (const char *name, void *arg)
{
    devquery_attr_t *self = (devquery_attr_t *) arg;
    registry_device_t *device = self->device;
    if (streq (name, "online")) {
        bool online = self->ctx->registry && device->id
                   && registry_online (self->ctx->registry, device->id, self->ctx->now_ms);
        return online? "true": "false";
    }
    if (streq (name, "site")) {
        //  The second segment of the path
        const char *slash = device->path? strchr (device->path, '/'): NULL;
        if (!slash)
            return NULL;
        const char *end = strchr (slash + 1, '/');
        size_t len = end? (size_t) (end - slash - 1): strlen (slash + 1);
        if (len == 0 || len >= sizeof self->buf)
            return NULL;
        memcpy (self->buf, slash + 1, len);
        self->buf [len] = 0;
        return self->buf;
    }
    if (strncmp (name, "tag.", 4) == 0)
        return registry_device_tag (device, name + 4);
    const char *value;
    if (registry_device_field (device, name, &value))
        //  Unset metadata is absent, not empty (tenant "" is a value)
        return value && (*value || streq (name, "tenant") || streq (name, "assurance"))
             ? value: NULL;
    if (streq (name, "attest")) {
        //  The last verdict (attest.h); absent if never attested
        json_t *verdict = device->id? attest_verdict_get (self->ctx->txn, device->id): NULL;
        const char *value = !verdict? NULL
                          : json_is_true (json_object_get (verdict, "ok"))? "passed": "failed";
        json_decref (verdict);
        return value;
    }
    return NULL;
}

static bool
s_match (const devquery_ctx_t *ctx, query_t *query, registry_device_t *device)
{
    if (!s_visible_at (ctx, registry_device_place (device)))
        return false;
    if (!query)
        return true;
    devquery_attr_t attr = { ctx, device, "" };
    return query_match (query, devquery_attr, &attr);
}

//  --------------------------------------------------------------------------
//  Brute force

typedef struct {
    const devquery_ctx_t *ctx;
    query_t *query;
    devquery_fn *fn;
    void *arg;
    int64_t matched;
    bool stopped;
} s_brute_t;

static int
s_brute_one (void *arg, registry_device_t *device)
{
    s_brute_t *self = (s_brute_t *) arg;
    if (!s_match (self->ctx, self->query, device))
        return 0;
    self->matched++;
    if (self->fn (self->arg, device)) {
        self->stopped = true;
        return 1;
    }
    return 0;
}

int64_t
devquery_brute (const devquery_ctx_t *ctx, query_t *query, devquery_fn *fn, void *arg)
{
    assert (ctx && fn);
    s_brute_t brute = { ctx, query, fn, arg, 0, false };
    if (registry_device_scan (ctx->txn, s_brute_one, &brute) < 0)
        return -1;
    return brute.matched;
}

//  --------------------------------------------------------------------------
//  Indexed

//  A set of ids: rows appended as an index yields them (a scope's scans
//  may repeat one), then sorted once, so that membership is a binary
//  search and the candidates come out in id order without hashing
#define S_ID_SIZE   (WEFT_NAME_MAX + 1)

typedef struct {
    char *rows;                     //  count rows of S_ID_SIZE bytes
    size_t count, max;              //  Rows filled, allocated
    const char **ids;               //  Sorted, each once (s_set_seal)
    size_t size;                    //  Entries in ids
    size_t cap;                     //  Give up past this many rows
    bool overflow;                  //  Gave up
} s_set_t;

static int
s_set_add (void *arg, const char *id)
{
    s_set_t *set = (s_set_t *) arg;
    size_t len = strlen (id);
    if (len > WEFT_NAME_MAX)
        return 0;                   //  No device has such an id
    if (set->count >= set->cap) {
        set->overflow = true;
        return 1;
    }
    if (set->count == set->max) {
        set->max = set->max? set->max * 2: 256;
        set->rows = (char *) realloc (set->rows, set->max * S_ID_SIZE);
        assert (set->rows);
    }
    memcpy (set->rows + set->count++ * S_ID_SIZE, id, len + 1);
    return 0;
}

static int
s_id_cmp (const void *a, const void *b)
{
    return strcmp (*(const char **) a, *(const char **) b);
}

//  Sort the rows and drop repeats
static void
s_set_seal (s_set_t *set)
{
    set->ids = (const char **) malloc ((set->count + 1) * sizeof (char *));
    assert (set->ids);
    for (size_t i = 0; i < set->count; i++)
        set->ids [i] = set->rows + i * S_ID_SIZE;
    qsort (set->ids, set->count, sizeof set->ids [0], s_id_cmp);
    set->size = 0;
    for (size_t i = 0; i < set->count; i++)
        if (set->size == 0 || strcmp (set->ids [set->size - 1], set->ids [i]))
            set->ids [set->size++] = set->ids [i];
}

static bool
s_set_has (const s_set_t *set, const char *id)
{
    return bsearch (&id, set->ids, set->size, sizeof set->ids [0], s_id_cmp) != NULL;
}

static void
s_set_fini (s_set_t *set)
{
    free (set->rows);
    free (set->ids);
    memset (set, 0, sizeof *set);
}

//  One source of candidates: an index term, or the scopes
typedef struct {
    int rank;                       //  Lower = try first
    const char *attr;
    const char *value;
    bool prefix;
    bool scopes;                    //  Union of the scope subtrees
} s_source_t;

//  Most selective sources first, by what fleets usually look like: an
//  exact place or asset before tags, tags before versions, versions
//  before the caller's subtrees, and types and tenants last
static int
s_rank (const char *attr, bool prefix)
{
    static const struct {
        const char *attr;
        int equal;                  //  Rank of attr=value
        int prefix;                 //  Rank of attr^=value
    } ranks [] = {
        { "id", 0, 100 }, { "asset", 2, 17 }, { "path", 4, 14 }, { "fw", 8, 9 },
        { "sw", 10, 11 }, { "hw", 12, 13 }, { "site", 16, 16 }, { "type", 18, 19 },
        { "role", 20, 21 }, { "link", 20, 21 }, { "tenant", 22, 23 }, { NULL, 0, 0 }
    };
    if (strncmp (attr, "tag.", 4) == 0)
        return prefix? 7: 6;
    for (int i = 0; ranks [i].attr; i++)
        if (streq (attr, ranks [i].attr))
            return prefix? ranks [i].prefix: ranks [i].equal;
    return 100;
}

#define S_RANK_FEW_VALUES   18      //  type=, and all ranked after it

static int
s_source_cmp (const void *a, const void *b)
{
    return ((const s_source_t *) a)->rank - ((const s_source_t *) b)->rank;
}

static int
s_fill (const devquery_ctx_t *ctx, const s_source_t *source, s_set_t *set)
{
    if (source->scopes) {
        //  Each subtree; s_match checks each candidate's place
        for (size_t i = 0; i < ctx->scope_count && !set->overflow; i++)
            if (registry_scope_scan (ctx->txn, ctx->scopes [i], s_set_add, set) < 0)
                return -1;
        return 0;
    }
    if (streq (source->attr, "id")) {
        s_set_add (set, source->value);
        return 0;
    }
    return registry_index_scan (ctx->txn, source->attr, source->value, source->prefix,
                                s_set_add, set) < 0? -1: 0;
}

int64_t
devquery_run (const devquery_ctx_t *ctx, query_t *query, devquery_fn *fn, void *arg,
              size_t *examined_p)
{
    assert (ctx && fn);
    if (examined_p)
        *examined_p = 0;
    if (ctx->scope_count == 0)
        return 0;
    bool global = false;
    for (size_t i = 0; i < ctx->scope_count; i++)
        if (*ctx->scopes [i] == 0)
            global = true;

    query_term_t terms [QUERY_TERMS_MAX];
    size_t count = query? query_index_terms (query, terms, QUERY_TERMS_MAX): 0;
    s_source_t sources [QUERY_TERMS_MAX + 1];
    size_t source_count = 0;
    for (size_t i = 0; i < count; i++) {
        bool prefix = terms [i].op == QUERY_OP_PREFIX;
        bool usable = registry_indexed (terms [i].attr) && *terms [i].attr != '@';
        if (streq (terms [i].attr, "id") && !prefix)
            usable = true;
        //  Unset metadata is not indexed: "fw^=" also matches nothing
        //  indexed for devices without fw, which is right (absent
        //  attributes satisfy no operator), except tenant "" which is
        //  indexed as a value
        if (!usable)
            continue;
        s_source_t source = { s_rank (terms [i].attr, prefix), terms [i].attr,
                              terms [i].value, prefix, false };
        sources [source_count++] = source;
    }
    if (!global) {
        s_source_t source = { 15, NULL, NULL, false, true };    //  Like path^=
        sources [source_count++] = source;
    }
    qsort (sources, source_count, sizeof sources [0], s_source_cmp);

    //  Complete sets, smallest first at the end; the equality terms
    //  whose sets grew too large are probed per candidate instead
    s_set_t sets [QUERY_TERMS_MAX + 1];
    size_t set_count = 0;
    const s_source_t *probes [QUERY_TERMS_MAX + 1];
    size_t probe_count = 0;
    size_t best = SIZE_MAX;
    int rc = 0;
    for (size_t i = 0; i < source_count && rc == 0; i++) {
        //  Types, roles and tenants have few values, each held by a large
        //  part of the fleet: once a set is complete, one lookup per
        //  candidate costs less than reading their index up to the set's
        //  size, only to abandon it
        if (set_count > 0 && sources [i].rank >= S_RANK_FEW_VALUES && !sources [i].prefix
        &&  !sources [i].scopes) {
            probes [probe_count++] = &sources [i];
            continue;
        }
        s_set_t set;
        memset (&set, 0, sizeof set);
        set.cap = best;
        //  An empty index value never stores: "x=" on a non-tenant
        //  attribute can match nothing indexed
        rc = s_fill (ctx, &sources [i], &set);
        if (rc || set.overflow) {
            if (rc == 0 && !sources [i].scopes && !sources [i].prefix
            &&  !streq (sources [i].attr, "id"))
                probes [probe_count++] = &sources [i];
            s_set_fini (&set);
            continue;
        }
        s_set_seal (&set);
        if (set.size < best)
            best = set.size;
        sets [set_count++] = set;
        if (best == 0)
            break;
    }
    int64_t matched = 0;
    if (rc == 0 && set_count == 0) {
        //  Nothing to narrow with: every device, in id order
        s_brute_t brute = { ctx, query, fn, arg, 0, false };
        int visited = registry_device_scan (ctx->txn, s_brute_one, &brute);
        if (examined_p)
            *examined_p = visited > 0? (size_t) visited: 0;
        matched = visited < 0? -1: brute.matched;
    }
    else
    if (rc == 0) {
        size_t smallest = 0;
        for (size_t i = 1; i < set_count; i++)
            if (sets [i].size < sets [smallest].size)
                smallest = i;
        //  The smallest set's ids, in order, that every other set holds
        //  (borrowed from the sets until they are freed)
        const char **ids = (const char **) zmalloc ((sets [smallest].size + 1) * sizeof (char *));
        size_t n = 0;
        for (size_t c = 0; c < sets [smallest].size; c++) {
            const char *id = sets [smallest].ids [c];
            bool everywhere = true;
            for (size_t i = 0; i < set_count && everywhere; i++)
                if (i != smallest && !s_set_has (&sets [i], id))
                    everywhere = false;
            if (everywhere)
                ids [n++] = id;
        }
        registry_device_t device;
        registry_device_init (&device);
        //  Candidates go in id order, so a cursor per probed term and one
        //  on the records mostly finds the next key on the page it is on
        store_cursor_t *cursors [QUERY_TERMS_MAX + 1];
        for (size_t p = 0; p < probe_count; p++)
            if (!(cursors [p] = registry_index_cursor (ctx->txn)))
                rc = -1;
        store_cursor_t *records = rc? NULL: registry_device_cursor (ctx->txn);
        if (!records)
            rc = -1;
        for (size_t i = 0; i < n && rc == 0; i++) {
            //  A broad equality term whose set was abandoned still
            //  narrows: one index lookup per candidate, before its record
            bool probed = true;
            for (size_t p = 0; p < probe_count && probed; p++)
                probed = registry_index_has_at (cursors [p], probes [p]->attr,
                                                probes [p]->value, ids [i]);
            if (!probed)
                continue;
            if (examined_p)
                (*examined_p)++;
            bool hit = registry_device_read_at (ctx->txn, records, ids [i], &device) == 0
                    && s_match (ctx, query, &device);
            int stop = hit? fn (arg, &device): 0;
            matched += hit;
            if (stop)
                break;
        }
        for (size_t p = 0; p < probe_count; p++)
            store_cursor_destroy (&cursors [p]);
        store_cursor_destroy (&records);
        registry_device_fini (&device);
        free (ids);
    }
    for (size_t i = 0; i < set_count; i++)
        s_set_fini (&sets [i]);
    return rc? -1: matched;
}

//  --------------------------------------------------------------------------
//  Selftest: the indexed evaluator against brute force on random
//  registries, random queries and random scopes

static int
s_collect (void *arg, registry_device_t *device)
{
    zlistx_add_end ((zlistx_t *) arg, strdup (device->id));
    return 0;
}

static zlistx_t *
s_list_new (void)
{
    zlistx_t *list = zlistx_new ();
    zlistx_set_destructor (list, (czmq_destructor *) zstr_free);
    return list;
}

static const char *
s_pick (const char **list, size_t count, uint32_t *seed)
{
    *seed = *seed * 1103515245 + 12345;
    return list [(*seed >> 8) % count];
}

static uint32_t
s_rand (uint32_t *seed, uint32_t range)
{
    *seed = *seed * 1103515245 + 12345;
    return (*seed >> 8) % range;
}

static const char *s_paths [] = {
    "", "acme", "acme/plant-1", "acme/plant-2", "acme/plant-2/line-7",
    "acme/plant-2/line-7/pump-a", "acme/plant-20", "globex/site-a",
    "globex/site-a/hall-1", "globex"
};
static const char *s_types [] = { "gateway", "server", "sensor-hub" };
static const char *s_fws [] = { "2.3.0", "2.3.0-rc1", "2.10.1", "1.9", "", "3" };
static const char *s_tag_keys [] = { "line", "maintenance", "owner" };
static const char *s_tag_values [] = { "7", "8", "", "north" };

static json_t *
s_random_device (int i, uint32_t *seed)
{
    char id [32];
    snprintf (id, sizeof id, "dev-%04d", i);
    const char *path = s_pick (s_paths, 10, seed);
    char tenant [32] = "";
    if (*path) {
        snprintf (tenant, sizeof tenant, "%s", path);
        char *slash = strchr (tenant, '/');
        if (slash)
            *slash = 0;
    }
    else
    if (s_rand (seed, 2))
        strcpy (tenant, "acme");
    char curve [65];
    snprintf (curve, sizeof curve, "%064x", i + 1);
    json_t *device = json_pack ("{s:s, s:s, s:s, s:s, s:s}", "id", id, "tenant", tenant,
                                "type", s_pick (s_types, 3, seed), "role", "gateway",
                                "curve_key", curve);
    if (*path && strchr (path, '/'))
        json_object_set_new (device, "path", json_string (path));
    const char *fw = s_pick (s_fws, 6, seed);
    if (*fw)
        json_object_set_new (device, "fw", json_string (fw));
    json_t *tags = json_object ();
    for (int t = 0; t < 3; t++)
        if (s_rand (seed, 2))
            json_object_set_new (tags, s_tag_keys [t],
                                 json_string (s_pick (s_tag_values, 4, seed)));
    json_object_set_new (device, "tags", tags);
    return device;
}

static void
s_random_term (char *out, size_t size, uint32_t *seed)
{
    switch (s_rand (seed, 9)) {
        case 0: snprintf (out, size, "type=%s", s_pick (s_types, 3, seed)); break;
        case 1: snprintf (out, size, "path^=\"%s\"", s_pick (s_paths, 10, seed)); break;
        case 2: snprintf (out, size, "fw<\"%s\"", s_pick (s_fws, 5, seed)); break;
        case 3: snprintf (out, size, "tag.%s=\"%s\"", s_pick (s_tag_keys, 3, seed),
                          s_pick (s_tag_values, 4, seed)); break;
        case 4: snprintf (out, size, "tag.%s", s_pick (s_tag_keys, 3, seed)); break;
        case 5: snprintf (out, size, "tenant=%s", s_rand (seed, 2)? "acme": "globex"); break;
        case 6: snprintf (out, size, "site=%s", s_rand (seed, 2)? "plant-2": "site-a"); break;
        case 7: snprintf (out, size, "id=dev-%04u", s_rand (seed, 60)); break;
        default: snprintf (out, size, "fw=\"%s\"", s_pick (s_fws, 5, seed)); break;
    }
}

static void
s_random_query (char *out, size_t size, uint32_t *seed)
{
    char term [128];
    s_random_term (out, size, seed);
    int extra = (int) s_rand (seed, 4);
    for (int i = 0; i < extra; i++) {
        s_random_term (term, sizeof term, seed);
        size_t len = strlen (out);
        switch (s_rand (seed, 4)) {
            case 0: snprintf (out + len, size - len, " or %s", term); break;
            case 1: snprintf (out + len, size - len, " and not %s", term); break;
            default: snprintf (out + len, size - len, " and %s", term); break;
        }
    }
}

void
devquery_test (bool verbose)
{
    printf (" * devquery: ");
    //  @selftest
    assert (devquery_covers ("", "x"));
    assert (devquery_covers ("acme", "acme"));
    assert (devquery_covers ("acme", "acme/plant-2"));
    assert (!devquery_covers ("acme/plant-2", "acme/plant-20"));
    assert (!devquery_covers ("acme", ""));

    char path [] = "/tmp/weft-devquery-test-XXXXXX";
    assert (mkdtemp (path));
    store_t *store = store_new (path, registry_tables (), 0);
    assert (store);
    uint32_t seed = 42;
    int rounds = 0, compared = 0;
    for (int registry_round = 0; registry_round < 4; registry_round++) {
        int devices = 50 + (int) s_rand (&seed, 150);
        store_txn_t *txn = store_begin (store, true);
        for (int i = 0; i < devices; i++) {
            json_t *device = s_random_device (i, &seed);
            assert (registry_device_put (txn, device) == 0);
            json_decref (device);
        }
        //  Rewrite some, so stale index entries would show
        for (int i = 0; i < devices / 3; i++) {
            json_t *device = s_random_device ((int) s_rand (&seed, (uint32_t) devices), &seed);
            assert (registry_device_put (txn, device) == 0);
            json_decref (device);
        }
        assert (store_commit (&txn) == 0);
        txn = store_begin (store, false);
        for (int q = 0; q < 150; q++) {
            char text [1024];
            s_random_query (text, sizeof text, &seed);
            char error [128];
            query_t *query = query_new (text, error, sizeof error);
            assert (query);
            devquery_ctx_t ctx = { NULL, txn, 0, { NULL }, 0 };
            const char *grants [] = { "", "acme", "acme/plant-2", "globex/site-a",
                                      "acme/plant-2/line-7" };
            ctx.scope_count = 1 + s_rand (&seed, 2);
            for (size_t s = 0; s < ctx.scope_count; s++)
                ctx.scopes [s] = s_pick (grants, 5, &seed);
            zlistx_t *fast = s_list_new ();
            zlistx_t *slow = s_list_new ();
            size_t examined;
            int64_t a = devquery_run (&ctx, query, s_collect, fast, &examined);
            int64_t b = devquery_brute (&ctx, query, s_collect, slow);
            if (a != b && verbose)
                printf ("\n   mismatch %s: %lld vs %lld\n", text, (long long) a, (long long) b);
            assert (a == b);
            assert (zlistx_size (fast) == zlistx_size (slow));
            const char *x = (const char *) zlistx_first (fast);
            const char *y = (const char *) zlistx_first (slow);
            while (x) {
                assert (streq (x, y));
                x = (const char *) zlistx_next (fast);
                y = (const char *) zlistx_next (slow);
            }
            compared += (int) a;
            zlistx_destroy (&fast);
            zlistx_destroy (&slow);
            query_destroy (&query);
            rounds++;
        }
        store_abort (&txn);
    }
    //  A selective query reads few records
    store_txn_t *txn = store_begin (store, false);
    query_t *query = query_new ("id=dev-0007 and type^=\"\"", NULL, 0);
    devquery_ctx_t ctx = { NULL, txn, 0, { "" }, 1 };
    zlistx_t *hits = s_list_new ();
    size_t examined;
    assert (devquery_run (&ctx, query, s_collect, hits, &examined) <= 1);
    assert (examined <= 1);
    zlistx_destroy (&hits);
    query_destroy (&query);
    //  Attestation verdicts and assurance from the TPM modules
    store_abort (&txn);
    txn = store_begin (store, true);
    const char *failed = "{\"ok\":false,\"reason\":\"PCR 9\"}";
    assert (store_put (txn, "attest", "verdict/dev-0003", 16, failed, strlen (failed)) == 0);
    json_t *device = registry_device_get (txn, "dev-0003");
    json_object_set_new (device, "assurance", json_string ("tpm"));
    assert (registry_device_put (txn, device) == 0);
    json_decref (device);
    ctx.txn = txn;
    query = query_new ("attest=failed and assurance=tpm", NULL, 0);
    hits = s_list_new ();
    assert (devquery_run (&ctx, query, s_collect, hits, NULL) == 1);
    assert (streq ((char *) zlistx_first (hits), "dev-0003"));
    zlistx_destroy (&hits);
    query_destroy (&query);

    //  No scope, nothing visible
    ctx.scope_count = 0;
    hits = s_list_new ();
    assert (devquery_run (&ctx, NULL, s_collect, hits, NULL) == 0);
    zlistx_destroy (&hits);
    store_abort (&txn);
    if (verbose)
        printf ("%d queries, %d matches compared ", rounds, compared);

    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    //  @end
    printf ("OK\n");
}
