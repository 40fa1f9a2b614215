/*  gossip - site-wide policy objects spread over links
    See gossip.h for the protocol and its bounds. State: the links (name
    -> s_link_t) and the keys pulled and not yet received (key ->
    s_pull_t). The objects themselves stay in the store (policy.c).  */

#include "proto/corelib.h"
#include "proto/keys.h"
#include "proto/gossip.h"

#define s_debug(self, ...) \
    do { if ((self)->verbose) zsys_debug (__VA_ARGS__); } while (0)

typedef struct {
    char name [WEFT_NAME_MAX + 1];
    bool push;                          //  New objects are pushed to it
    uint64_t heard_ms;                  //  Last message from it
    uint64_t asked_ms;                  //  Our bucket digests last sent to it
    uint64_t window_ms;                 //  Start of its request window
    size_t requests;                    //  Requests answered in the window
} s_link_t;

typedef struct {
    uint64_t version;                   //  Asked for at least this version
    uint64_t deadline_ms;               //  Forgotten after (asked again later)
} s_pull_t;

struct _gossip_t {
    policy_store_t *policies;
    uint64_t interval_ms;
    size_t links_max;
    bool auto_links;
    bool verbose;
    gossip_effects_t fx;
    zhashx_t *links;                    //  Name -> s_link_t
    zhashx_t *pulls;                    //  Key -> s_pull_t, made at the first pull
    uint64_t ticks;
    uint64_t next_tick;
    size_t rotor;                       //  Where the next fan-out starts
    gossip_stats_t stats;
};

static void
s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

gossip_t *
gossip_new (const gossip_config_t *config, const gossip_effects_t *effects)
{
    assert (config && effects);
    if (!config->policies || !effects->send)
        return NULL;
    gossip_t *self = (gossip_t *) zmalloc (sizeof (gossip_t));
    self->policies = config->policies;
    self->interval_ms = config->interval_ms? config->interval_ms: 5000;
    self->links_max = config->links_max? config->links_max: 1024;
    self->auto_links = config->auto_links;
    self->verbose = config->verbose;
    self->fx = *effects;
    self->links = zhashx_new ();
    zhashx_set_destructor (self->links, s_free_item);
    return self;
}

void
gossip_destroy (gossip_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        gossip_t *self = *self_p;
        zhashx_destroy (&self->links);
        zhashx_destroy (&self->pulls);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Sending

static void
s_send (gossip_t *self, const char *link, const policymsg_t *msg)
{
    uint8_t *payload;
    size_t size;
    int rc = policymsg_msg_encode (msg, &payload, &size);
    if (rc) {
        zsys_error ("gossip: encode %s: %s", proto_msg_name (msg->type), proto_strerror (rc));
        return;
    }
    self->fx.send (self->fx.ctx, link, msg->type, payload, size);
    free (payload);
}

static void
s_send_object (gossip_t *self, const char *link, const uint8_t *object, size_t size)
{
    policymsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_POLICY;
    msg.object = object;
    msg.object_size = size;
    s_send (self, link, &msg);
}

//  Our summary; with_buckets asks the link to list where we differ
static void
s_send_summary (gossip_t *self, s_link_t *link, bool with_buckets, uint64_t now_ms)
{
    policymsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_POLICY_SUMMARY;
    msg.count = policy_store_count (self->policies);
    policy_store_root (self->policies, msg.root);
    if (with_buckets) {
        msg.buckets = policy_store_buckets (self->policies);
        link->asked_ms = now_ms;
    }
    s_send (self, link->name, &msg);
    self->stats.summaries++;
}

//  Push a new object to at most GOSSIP_FANOUT links other than from,
//  starting where the last fan-out stopped so the load turns round, and
//  tell up to GOSSIP_LAZY_MAX of the others that our set changed (a
//  summary, tens of bytes): those lacking the object pull it now
//  instead of at the next periodic summary
static void
s_push (gossip_t *self, const char *from, const uint8_t *object, size_t size)
{
    size_t count = zhashx_size (self->links);
    if (count == 0)
        return;
    s_link_t **links = (s_link_t **) zmalloc (sizeof (s_link_t *) * count);
    size_t eligible = 0;
    for (s_link_t *link = (s_link_t *) zhashx_first (self->links); link;
         link = (s_link_t *) zhashx_next (self->links))
        if (link->push && (!from || !streq (link->name, from)))
            links [eligible++] = link;
    for (size_t i = 0; i < eligible && i < GOSSIP_FANOUT + GOSSIP_LAZY_MAX; i++) {
        s_link_t *link = links [(self->rotor + i) % eligible];
        if (i < GOSSIP_FANOUT) {
            s_send_object (self, link->name, object, size);
            self->stats.pushed++;
        }
        else
            s_send_summary (self, link, false, 0);
    }
    if (eligible)
        self->rotor = (self->rotor + GOSSIP_FANOUT) % eligible;
    free (links);
}

//  --------------------------------------------------------------------------
//  Links

static s_link_t *
s_link (gossip_t *self, const char *name, bool create, uint64_t now_ms)
{
    s_link_t *link = (s_link_t *) zhashx_lookup (self->links, name);
    if (!link && create) {
        if (zhashx_size (self->links) >= self->links_max || strlen (name) > WEFT_NAME_MAX)
            return NULL;
        link = (s_link_t *) zmalloc (sizeof (s_link_t));
        snprintf (link->name, sizeof link->name, "%s", name);
        link->window_ms = now_ms;
        zhashx_insert (self->links, name, link);
    }
    return link;
}

void
gossip_link_up (gossip_t *self, const char *name, bool push, uint64_t now_ms)
{
    assert (self && name);
    s_link_t *link = s_link (self, name, true, now_ms);
    if (!link) {
        zsys_warning ("gossip: too many links, %s not used", name);
        return;
    }
    link->push = push;
    link->heard_ms = now_ms;
    link->asked_ms = 0;
    s_send_summary (self, link, false, now_ms);
}

void
gossip_link_down (gossip_t *self, const char *name)
{
    assert (self && name);
    zhashx_delete (self->links, name);
}

//  May link have one more request answered in this window?
static bool
s_budget (gossip_t *self, s_link_t *link, uint64_t now_ms)
{
    if (now_ms >= link->window_ms + self->interval_ms) {
        link->window_ms = now_ms;
        link->requests = 0;
    }
    if (link->requests >= GOSSIP_REQUESTS_MAX) {
        self->stats.throttled++;
        return false;
    }
    link->requests++;
    return true;
}

//  --------------------------------------------------------------------------
//  Objects

static int
s_offer (gossip_t *self, const char *from, const uint8_t *object, size_t size)
{
    char key [POLICYMSG_KEY_MAX + 1] = "";
    uint64_t version = 0;
    int rc = policy_store_offer (self->policies, object, size, key, &version);
    s_pull_t *pull = *key && self->pulls? (s_pull_t *) zhashx_lookup (self->pulls, key): NULL;
    switch (rc) {
        case POLICY_STORED:
            self->stats.stored++;
            if (pull && version >= pull->version) {
                self->stats.pulled++;
                zhashx_delete (self->pulls, key);
            }
            s_debug (self, "gossip: %s version %" PRIu64 " stored (%s %s)", key, version,
                     pull? "pulled from": "from", from? from: "publisher");
            s_push (self, from, object, size);
            break;
        case POLICY_DUPLICATE:
            self->stats.duplicates++;
            if (pull && version >= pull->version)
                zhashx_delete (self->pulls, key);
            s_debug (self, "gossip: %s version %" PRIu64 " again from %s", key, version,
                     from? from: "publisher");
            break;
        case POLICY_STALE:
            self->stats.stale++;
            zsys_warning ("gossip: %s version %" PRIu64 " from %s refused: older than "
                          "version %" PRIu64, key, version, from? from: "publisher",
                          policy_store_version (self->policies, key));
            break;
        case POLICY_FORGED:
            self->stats.forged++;
            zsys_warning ("gossip: object from %s refused: not signed by our CA",
                          from? from: "publisher");
            break;
        case POLICY_MALFORMED:
            self->stats.malformed++;
            zsys_warning ("gossip: object from %s refused: malformed", from? from: "publisher");
            break;
        case POLICY_FULL:
            self->stats.refused_full++;
            zsys_warning ("gossip: %s from %s refused: the policy store is full", key,
                          from? from: "publisher");
            break;
        default:
            break;                      //  Not stored (logged); pulled again later
    }
    return rc;
}

int
gossip_publish (gossip_t *self, const uint8_t *object, size_t size, uint64_t now_ms)
{
    assert (self && object);
    (void) now_ms;
    return s_offer (self, NULL, object, size);
}

//  --------------------------------------------------------------------------
//  Anti-entropy

typedef struct {
    gossip_t *self;
    const char *link;
    char keys [POLICYMSG_KEYS_MAX * (POLICYMSG_KEY_MAX + 1)];
    size_t keys_size;
    uint8_t versions [POLICYMSG_KEYS_MAX * 8];
    size_t count;                       //  In this page
    size_t total;                       //  In this answer
} s_list_t;

static void
s_list_flush (s_list_t *list, bool want)
{
    if (list->count == 0)
        return;
    policymsg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = MSG_POLICY_KEYS;
    msg.want = want;
    msg.keys = list->keys;
    msg.keys_size = list->keys_size;
    msg.versions = list->versions;
    msg.key_count = list->count;
    s_send (list->self, list->link, &msg);
    list->count = 0;
    list->keys_size = 0;
}

static void
s_list_add (s_list_t *list, const char *key, uint64_t version, bool want)
{
    size_t size = strlen (key);
    if (list->count)
        list->keys [list->keys_size++] = ',';
    memcpy (list->keys + list->keys_size, key, size);
    list->keys_size += size;
    for (int i = 0; i < 8; i++)
        list->versions [list->count * 8 + (size_t) i] = (uint8_t) (version >> (56 - 8 * i));
    list->count++;
    list->total++;
    if (list->count == POLICYMSG_KEYS_MAX)
        s_list_flush (list, want);
}

static int
s_list_each (void *arg, const char *key, uint64_t version)
{
    s_list_t *list = (s_list_t *) arg;
    if (list->total >= GOSSIP_LIST_MAX)
        return 1;
    s_list_add (list, key, version, false);
    list->self->stats.listed++;
    return 0;
}

static int
s_on_summary (gossip_t *self, s_link_t *link, const policymsg_t *msg, uint64_t now_ms)
{
    if (msg->buckets) {
        //  The link asks where we differ: list our keys there
        if (!s_budget (self, link, now_ms))
            return -1;
        const uint8_t *mine = policy_store_buckets (self->policies);
        s_list_t *list = (s_list_t *) zmalloc (sizeof (s_list_t));
        list->self = self;
        list->link = link->name;
        for (size_t bucket = 0; bucket < POLICYMSG_BUCKETS
                                && list->total < GOSSIP_LIST_MAX; bucket++)
            if (memcmp (mine + bucket * POLICYMSG_DIGEST_SIZE,
                        msg->buckets + bucket * POLICYMSG_DIGEST_SIZE,
                        POLICYMSG_DIGEST_SIZE) != 0)
                policy_store_each (self->policies, bucket, s_list_each, list);
        s_list_flush (list, false);
        s_debug (self, "gossip: listed %zu keys for %s", list->total, link->name);
        free (list);
    }
    uint8_t root [POLICYMSG_DIGEST_SIZE];
    policy_store_root (self->policies, root);
    //  Where we differ, ask the link to list its side (once per interval)
    if (memcmp (root, msg->root, sizeof root) != 0
    &&  (link->asked_ms == 0 || now_ms >= link->asked_ms + self->interval_ms))
        s_send_summary (self, link, true, now_ms);
    return 0;
}

static void
s_expire_pulls (gossip_t *self, uint64_t now_ms)
{
    if (!self->pulls)
        return;
    zlistx_t *done = zlistx_new ();
    for (s_pull_t *pull = (s_pull_t *) zhashx_first (self->pulls); pull;
         pull = (s_pull_t *) zhashx_next (self->pulls))
        if (now_ms >= pull->deadline_ms)
            zlistx_add_end (done, (void *) zhashx_cursor (self->pulls));
    for (const char *key = (const char *) zlistx_first (done); key;
         key = (const char *) zlistx_next (done))
        zhashx_delete (self->pulls, key);
    zlistx_destroy (&done);
}

static int
s_on_keys (gossip_t *self, s_link_t *link, const policymsg_t *msg, uint64_t now_ms)
{
    if (msg->want && !s_budget (self, link, now_ms))
        return -1;
    s_list_t *list = (s_list_t *) zmalloc (sizeof (s_list_t));
    list->self = self;
    list->link = link->name;
    size_t offset = 0;
    char key [POLICYMSG_KEY_MAX + 1];
    uint64_t version;
    for (size_t i = 0; policymsg_key_next (msg, &offset, i, key, &version) == 0; i++) {
        uint64_t held = policy_store_version (self->policies, key);
        if (msg->want) {
            //  The link pulls: send what we hold of it, if not older
            size_t size;
            uint8_t *object = held && held >= version?
                policy_store_object (self->policies, key, &size): NULL;
            if (object) {
                s_send_object (self, link->name, object, size);
                self->stats.served++;
            }
            free (object);
            continue;
        }
        //  The link holds key at version: pull it if we lack it
        if (version <= held)
            continue;
        if (!self->pulls) {
            self->pulls = zhashx_new ();
            zhashx_set_destructor (self->pulls, s_free_item);
        }
        s_pull_t *pull = (s_pull_t *) zhashx_lookup (self->pulls, key);
        if (pull && pull->version >= version && now_ms < pull->deadline_ms)
            continue;                   //  Asked already, elsewhere maybe
        if (!pull) {
            if (zhashx_size (self->pulls) >= GOSSIP_PULLS_MAX)
                continue;               //  Next round
            pull = (s_pull_t *) zmalloc (sizeof (s_pull_t));
            zhashx_insert (self->pulls, key, pull);
        }
        pull->version = version;
        pull->deadline_ms = now_ms + 3 * self->interval_ms;
        s_list_add (list, key, version, true);
        self->stats.wanted++;
    }
    if (!msg->want) {
        s_list_flush (list, true);
        if (list->total)
            s_debug (self, "gossip: pulling %zu keys from %s", list->total, link->name);
    }
    free (list);
    return 0;
}

int
gossip_on_message (gossip_t *self, const char *name, int type, const uint8_t *payload,
                   size_t size, uint64_t now_ms)
{
    assert (self && name);
    s_link_t *link = s_link (self, name, self->auto_links, now_ms);
    if (!link) {
        s_debug (self, "gossip: %s from unknown link %s dropped", proto_msg_name (type), name);
        return -1;
    }
    if (self->auto_links && link->heard_ms == 0)
        link->push = true;
    link->heard_ms = now_ms;
    policymsg_t msg;
    if (policymsg_msg_decode (&msg, type, payload, size)) {
        self->stats.malformed++;
        return -1;
    }
    if (type == MSG_POLICY) {
        int rc = s_offer (self, name, msg.object, msg.object_size);
        return rc == POLICY_STORED || rc == POLICY_DUPLICATE? 0: -1;
    }
    if (type == MSG_POLICY_SUMMARY)
        return s_on_summary (self, link, &msg, now_ms);
    return s_on_keys (self, link, &msg, now_ms);
}

//  --------------------------------------------------------------------------
//  Timers

void
gossip_tick (gossip_t *self, uint64_t now_ms)
{
    assert (self);
    if (now_ms < self->next_tick)
        return;
    self->next_tick = now_ms + self->interval_ms;
    bool summaries = ++self->ticks % GOSSIP_SUMMARY_TICKS == 0;
    zlistx_t *idle = zlistx_new ();
    for (s_link_t *link = (s_link_t *) zhashx_first (self->links); link;
         link = (s_link_t *) zhashx_next (self->links))
        if (self->auto_links && now_ms > link->heard_ms + GOSSIP_IDLE_MS)
            zlistx_add_end (idle, link->name);
        else
        if (summaries && !self->auto_links)
            s_send_summary (self, link, false, now_ms);
    for (const char *name = (const char *) zlistx_first (idle); name;
         name = (const char *) zlistx_next (idle))
        zhashx_delete (self->links, name);
    zlistx_destroy (&idle);
    s_expire_pulls (self, now_ms);
}

//  --------------------------------------------------------------------------
//  Counters

const gossip_stats_t *
gossip_stats (gossip_t *self)
{
    assert (self);
    return &self->stats;
}

char *
gossip_stats_json (gossip_t *self)
{
    assert (self);
    const gossip_stats_t *s = &self->stats;
    return zsys_sprintf (
        "{\"held\":%zu,\"stored\":%" PRIu64 ",\"pulled\":%" PRIu64 ",\"pushed\":%" PRIu64
        ",\"served\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"stale\":%" PRIu64
        ",\"forged\":%" PRIu64 ",\"malformed\":%" PRIu64 ",\"full\":%" PRIu64
        ",\"throttled\":%" PRIu64 ",\"summaries\":%" PRIu64 ",\"wanted\":%" PRIu64
        ",\"listed\":%" PRIu64 "}",
        policy_store_count (self->policies), s->stored, s->pulled, s->pushed, s->served,
        s->duplicates, s->stale, s->forged, s->malformed, s->refused_full, s->throttled,
        s->summaries, s->wanted, s->listed);
}

