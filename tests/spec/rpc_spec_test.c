/*  rpc_spec_test - docs/protocol.md's operator RPC is the code's
    Three tables in docs/protocol.md section 13 are read back and
    compared with the code they describe, so neither can drift: the
    roles and their permissions (proto/opcred.c), the method table
    (name, arguments, permission, audited; coordinator/core/rpc.c, each
    method also with a "#### `name`" section), and the counters of
    coord.stats (what the method returns). Each table follows an HTML
    comment that names it; the test prints every row that differs, with
    what the code says, then fails. Run from the repository root (as
    tests/run.sh does), or set WEFT_DOCS_DIR.  */

#include "proto/corelib.h"
#include <sodium.h>
#include "proto/opcred.h"
#include "coordinator/core/rpc.h"
#include "tests/spec/spec_tests.h"

#define S_ROWS_MAX      128
#define S_CELLS_MAX     8
#define S_WORDS_MAX     32

//  One table row: its cells' backticked words
typedef struct {
    size_t cells;
    char *words [S_CELLS_MAX][S_WORDS_MAX];
    size_t counts [S_CELLS_MAX];
    char *text [S_CELLS_MAX];       //  Each cell's text, trimmed
} s_row_t;

typedef struct {
    s_row_t rows [S_ROWS_MAX];
    size_t count;
} s_table_t;

typedef struct {
    char *doc;                      //  The whole file
    size_t failures;
} s_check_t;

static void
s_fail (s_check_t *check, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "docs/protocol.md: ");
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
    check->failures++;
}

static char *
s_read_doc (void)
{
    const char *dir = getenv ("WEFT_DOCS_DIR");
    char path [512];
    snprintf (path, sizeof path, "%s/protocol.md", dir && *dir? dir: "docs");
    FILE *file = fopen (path, "r");
    if (!file) {
        fprintf (stderr, "rpc_spec: cannot read %s: run from the repository root or set "
                 "WEFT_DOCS_DIR\n", path);
        return NULL;
    }
    size_t size = 0, alloc = 65536;
    char *text = (char *) zmalloc (alloc);
    size_t got;
    while ((got = fread (text + size, 1, alloc - size - 1, file)) > 0) {
        size += got;
        if (size + 1 >= alloc) {
            alloc *= 2;
            text = (char *) realloc (text, alloc);
            assert (text);
        }
    }
    text [size] = 0;
    fclose (file);
    return text;
}

//  The table that follows the comment "<!-- MARKER" into table (words
//  point into a copy the caller frees). False if there is none.
static bool
s_table (s_check_t *check, const char *marker, s_table_t *table, char **copy_p)
{
    memset (table, 0, sizeof *table);
    char needle [128];
    snprintf (needle, sizeof needle, "<!-- %s", marker);
    const char *start = strstr (check->doc, needle);
    *copy_p = NULL;
    if (!start) {
        s_fail (check, "no table marked '%s -->'", needle);
        return false;
    }
    start = strchr (start, '\n');
    char *copy = strdup (start? start + 1: "");
    *copy_p = copy;
    size_t lines = 0;
    for (char *line = strtok (copy, "\n"); line; line = strtok (NULL, "\n")) {
        if (*line != '|') {
            if (lines)
                break;              //  The end of the table
            continue;               //  Blank lines before it
        }
        if (++lines <= 2)
            continue;               //  Header and separator
        if (table->count == S_ROWS_MAX)
            break;
        s_row_t *row = &table->rows [table->count++];
        char *cell = line + 1;
        while (*cell && row->cells < S_CELLS_MAX) {
            char *end = strchr (cell, '|');
            if (!end)
                break;
            *end = 0;
            size_t index = row->cells++;
            //  Backticked words, the text trimmed
            for (char *tick = strchr (cell, '`'); tick && row->counts [index] < S_WORDS_MAX;) {
                char *close = strchr (tick + 1, '`');
                if (!close)
                    break;
                *close = 0;
                row->words [index][row->counts [index]++] = tick + 1;
                tick = strchr (close + 1, '`');
            }
            while (*cell == ' ')
                cell++;
            row->text [index] = cell;
            cell = end + 1;
        }
    }
    return true;
}

static bool
s_has (char *const *words, size_t count, const char *word)
{
    for (size_t i = 0; i < count; i++)
        if (streq (words [i], word))
            return true;
    return false;
}

//  --------------------------------------------------------------------------
//  Roles

static void
s_check_roles (s_check_t *check, bool verbose)
{
    s_table_t table;
    char *copy;
    if (!s_table (check, "roles:", &table, &copy)) {
        free (copy);
        return;
    }
    const char *role;
    for (size_t index = 0; (role = opcred_role_name (index)); index++) {
        int perms = opcred_role_perms (role);
        s_row_t *row = NULL;
        for (size_t r = 0; r < table.count && !row; r++)
            if (table.rows [r].counts [0] && streq (table.rows [r].words [0][0], role))
                row = &table.rows [r];
        if (!row) {
            s_fail (check, "section 13.2: role `%s` (proto/opcred.c) has no row", role);
            continue;
        }
        for (int bit = 1; bit <= perms; bit <<= 1) {
            const char *name = opcred_perm_name (bit);
            if ((perms & bit) && !name)
                s_fail (check, "section 13.2: permission %d of role `%s` has no name in "
                        "opcred_perm_name (proto/opcred.c)", bit, role);
            else
            if ((perms & bit) && !s_has (row->words [1], row->counts [1], name))
                s_fail (check, "section 13.2, row `%s`: the role holds `%s` "
                        "(proto/opcred.c), the row does not list it", role, name);
        }
        for (size_t w = 0; w < row->counts [1]; w++) {
            int bit = 1;
            while (bit <= 0x4000 && !(opcred_perm_name (bit)
                                     && streq (opcred_perm_name (bit), row->words [1][w])))
                bit <<= 1;
            if (!(perms & bit))
                s_fail (check, "section 13.2, row `%s`: lists `%s`, which the role does "
                        "not hold (proto/opcred.c)", role, row->words [1][w]);
        }
    }
    for (size_t r = 0; r < table.count; r++) {
        const char *name = table.rows [r].counts [0]? table.rows [r].words [0][0]: "";
        if (opcred_role_perms (name) == 0)
            s_fail (check, "section 13.2: row `%s` is no role of proto/opcred.c", name);
    }
    if (verbose)
        printf ("\n   %zu roles", table.count);
    free (copy);
}

//  --------------------------------------------------------------------------
//  Methods

//  One row of the method table (rpc_method_at)
typedef struct {
    const char *name;
    int perm;
    bool writes;
    const char *const *keys;
} s_method_t;

static bool
s_method_at (size_t index, s_method_t *info)
{
    return rpc_method_at (index, &info->name, &info->perm, &info->writes, &info->keys);
}

static void
s_check_methods (s_check_t *check, bool verbose)
{
    s_table_t table;
    char *copy;
    if (!s_table (check, "methods:", &table, &copy)) {
        free (copy);
        return;
    }
    s_method_t info;
    size_t methods = 0;
    for (size_t index = 0; s_method_at (index, &info); index++, methods++) {
        s_row_t *row = NULL;
        for (size_t r = 0; r < table.count && !row; r++)
            if (table.rows [r].counts [0] && streq (table.rows [r].words [0][0], info.name))
                row = &table.rows [r];
        if (!row) {
            s_fail (check, "section 13.3: method `%s` (coordinator/core/rpc.c) has no row",
                    info.name);
            continue;
        }
        if (row->cells < 4) {
            s_fail (check, "section 13.3, row `%s`: want 4 cells (method, arguments, "
                    "permission, audited), got %zu", info.name, row->cells);
            continue;
        }
        //  Arguments: the same names, either way round
        char missing [512] = "", extra [512] = "";
        for (size_t k = 0; info.keys [k]; k++)
            if (!s_has (row->words [1], row->counts [1], info.keys [k]))
                snprintf (missing + strlen (missing), sizeof missing - strlen (missing),
                          "%s`%s`", *missing? ", ": "", info.keys [k]);
        for (size_t w = 0; w < row->counts [1]; w++) {
            size_t k = 0;
            while (info.keys [k] && !streq (info.keys [k], row->words [1][w]))
                k++;
            if (!info.keys [k])
                snprintf (extra + strlen (extra), sizeof extra - strlen (extra),
                          "%s`%s`", *extra? ", ": "", row->words [1][w]);
        }
        if (*missing)
            s_fail (check, "section 13.3, row `%s`: coordinator/core/rpc.c accepts the "
                    "arguments %s, which the row does not list", info.name, missing);
        if (*extra)
            s_fail (check, "section 13.3, row `%s`: the row lists the arguments %s, which "
                    "coordinator/core/rpc.c does not accept", info.name, extra);
        const char *perm = opcred_perm_name (info.perm);
        if (!perm)
            s_fail (check, "section 13.3, row `%s`: its permission %d has no name in "
                    "opcred_perm_name (proto/opcred.c)", info.name, info.perm);
        else
        if (row->counts [2] != 1 || !streq (row->words [2][0], perm))
            s_fail (check, "section 13.3, row `%s`: coordinator/core/rpc.c needs the "
                    "permission `%s`, the row says %s", info.name, perm,
                    row->counts [2]? row->words [2][0]: "nothing");
        bool audited = strncmp (row->text [3], "yes", 3) == 0;
        if (audited != info.writes || (!audited && strncmp (row->text [3], "refusals", 8)))
            s_fail (check, "section 13.3, row `%s`: coordinator/core/rpc.c audits %s, the "
                    "row's audited cell must start with '%s'", info.name,
                    info.writes? "every call": "its refusals only",
                    info.writes? "yes": "refusals");
        //  And a section of its own
        char heading [128];
        snprintf (heading, sizeof heading, "\n#### `%s`", info.name);
        if (!strstr (check->doc, heading))
            s_fail (check, "section 13.4: method `%s` has no section '#### `%s`'",
                    info.name, info.name);
    }
    for (size_t r = 0; r < table.count; r++) {
        const char *name = table.rows [r].counts [0]? table.rows [r].words [0][0]: "";
        size_t index = 0;
        while (s_method_at (index, &info) && !streq (info.name, name))
            index++;
        if (!s_method_at (index, &info))
            s_fail (check, "section 13.3: row `%s` is no method of coordinator/core/rpc.c",
                    name);
    }
    if (verbose)
        printf ("\n   %zu methods, %zu rows", methods, table.count);
    free (copy);
}

//  --------------------------------------------------------------------------
//  coord.stats: the counters the method returns, each with a row

static void
s_check_stats (s_check_t *check, bool verbose)
{
    s_table_t table;
    char *copy;
    if (!s_table (check, "coord.stats:", &table, &copy)) {
        free (copy);
        return;
    }
    char path [] = "/tmp/weft-rpc-spec-XXXXXX";
    assert (mkdtemp (path));
    store_t *store = store_new (path, registry_tables (), 0);
    assert (store);
    keys_t ca;
    keys_generate (&ca);
    coord_stats_t stats;
    memset (&stats, 0, sizeof stats);
    uint8_t coord_curve [32] = { 0 };
    rpc_env_t env = { registry_new (store), pki_new (&ca), coord_curve, &stats, NULL, NULL };
    rpc_caller_t caller;
    memset (&caller, 0, sizeof caller);
    strcpy (caller.name, "admin");
    strcpy (caller.grants [0].role, "admin");
    caller.grant_count = 1;             //  admin on everything (path "")
    rpc_result_t result;
    store_txn_t *txn = store_begin (store, false);
    rpc_call_read (&env, txn, &caller, "coord.stats", "{}", 2, 1700000000000ULL, &result);
    store_abort (&txn);
    assert (result.status == WEFT_STATUS_OK);
    const char *key;
    json_t *value;
    json_object_foreach (result.result, key, value) {
        size_t r = 0;
        while (r < table.count
           && !(table.rows [r].counts [0] && streq (table.rows [r].words [0][0], key)))
            r++;
        if (r == table.count)
            s_fail (check, "coord.stats returns the counter `%s`, which the table of "
                    "section 13.4 does not list", key);
    }
    for (size_t r = 0; r < table.count; r++) {
        const char *name = table.rows [r].counts [0]? table.rows [r].words [0][0]: "";
        if (!json_object_get (result.result, name))
            s_fail (check, "the coord.stats table lists `%s`, which coord.stats does not "
                    "return", name);
    }
    if (verbose)
        printf ("\n   %zu coord.stats counters", json_object_size (result.result));
    rpc_result_clear (&result);
    registry_destroy (&env.registry);
    pki_destroy (&env.pki);
    keys_wipe (&ca);
    store_destroy (&store);
    zdir_t *dir = zdir_new (path, NULL);
    zdir_remove (dir, true);
    zdir_destroy (&dir);
    free (copy);
}

void
rpc_spec_test (bool verbose)
{
    printf (" * rpc_spec: ");
    //  @selftest
    s_check_t check = { s_read_doc (), 0 };
    assert (check.doc);
    s_check_roles (&check, verbose);
    s_check_methods (&check, verbose);
    s_check_stats (&check, verbose);
    free (check.doc);
    if (check.failures)
        fprintf (stderr, "rpc_spec: %zu difference%s between docs/protocol.md and the code "
                 "(above): update the rows to what the code does\n", check.failures,
                 check.failures > 1? "s": "");
    assert (check.failures == 0);
    //  @end
    printf ("%sOK\n", verbose? "\n   ": "");
}
