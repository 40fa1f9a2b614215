/*  discovery - neighbours found by LAN beacons, without I/O
    A fixed table of DISCOVERY_PEERS_MAX slots (a slot number is the
    I/O layer's link for the peer while it lives), a set of excluded
    keys and a bounded set of banned (key, endpoint) pairs. Rates are
    counted in fixed one-second windows. The table is scanned at most
    every DISCOVERY_SCAN_MS, so the cost per event-loop turn does not
    grow with the mesh.  */

#include "proto/corelib.h"
#include <arpa/inet.h>
#include "proto/keys.h"
#include "node/core/discovery.h"

#define DISCOVERY_SCAN_MS   250

typedef struct {
    bool used;
    discovery_peer_t peer;
    uint64_t seen_ms;               //  Last beacon
    uint64_t dial_ms;               //  When to dial (not dialled yet)
    uint64_t dialled_ms;
} s_slot_t;

typedef struct {
    uint64_t start_ms;
    uint64_t count;
} s_window_t;

struct _discovery_t {
    discovery_config_t config;
    uint8_t own_key [WEFT_KEY_SIZE];
    uint8_t deployment [BEACON_FINGERPRINT_SIZE];
    s_slot_t slots [DISCOVERY_PEERS_MAX];
    zhashx_t *excluded;             //  Key hex -> (void *) 1
    zhashx_t *banned;               //  "keyhex@endpoint" -> until ms (uint64_t *)
    s_window_t beacons, news;
    uint64_t next_scan_ms;
    size_t cursor;                  //  Slot the current scan is at
    discovery_stats_t stats;
};

static const char *s_outcome_names [DISCOVERY_OUTCOMES] = {
    "new peer", "refreshed", "our own", "another deployment", "malformed",
    "rate limited", "table full", "banned (no valid HELLO recently)",
    "a configured neighbour", "key already linked at another endpoint"
};

const char *
discovery_outcome_name (int outcome)
{
    return outcome >= 0 && outcome < DISCOVERY_OUTCOMES? s_outcome_names [outcome]: "?";
}

discovery_t *
discovery_new (const discovery_config_t *config)
{
    assert (config && config->own_key && config->ca_key && config->linked);
    discovery_t *self = (discovery_t *) zmalloc (sizeof (discovery_t));
    self->config = *config;
    memcpy (self->own_key, config->own_key, WEFT_KEY_SIZE);
    self->config.own_key = self->own_key;
    self->config.ca_key = NULL;
    beacon_fingerprint (config->ca_key, self->deployment);
    self->excluded = zhashx_new ();
    self->banned = zhashx_new ();
    zhashx_set_destructor (self->banned, (zhashx_destructor_fn *) zstr_free);
    return self;
}

void
discovery_destroy (discovery_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        discovery_t *self = *self_p;
        zhashx_destroy (&self->excluded);
        zhashx_destroy (&self->banned);
        free (self);
        *self_p = NULL;
    }
}

void
discovery_exclude (discovery_t *self, const uint8_t key [WEFT_KEY_SIZE])
{
    assert (self && key);
    char hex [2 * WEFT_KEY_SIZE + 1];
    keys_hex (key, WEFT_KEY_SIZE, hex);
    zhashx_update (self->excluded, hex, (void *) 1);
}

//  True if the window still has room at now_ms (and counts one).
static bool
s_window_take (s_window_t *window, uint64_t limit, uint64_t now_ms)
{
    if (now_ms >= window->start_ms + 1000 || now_ms < window->start_ms) {
        window->start_ms = now_ms;
        window->count = 0;
    }
    if (window->count >= limit)
        return false;
    window->count++;
    return true;
}

static void
s_ban_name (const uint8_t key [WEFT_KEY_SIZE], const char *endpoint, char *name, size_t size)
{
    char hex [2 * WEFT_KEY_SIZE + 1];
    keys_hex (key, WEFT_KEY_SIZE, hex);
    snprintf (name, size, "%s@%s", hex, endpoint);
}

static bool
s_is_banned (discovery_t *self, const char *name, uint64_t now_ms)
{
    uint64_t *until = (uint64_t *) zhashx_lookup (self->banned, name);
    if (until && *until > now_ms)
        return true;
    if (until)
        zhashx_delete (self->banned, name);
    return false;
}

static void
s_ban (discovery_t *self, const char *name, uint64_t now_ms)
{
    if (zhashx_size (self->banned) >= DISCOVERY_BANNED_MAX) {
        //  Forget the bans that ran out; if none did, all of them: the
        //  bound matters more than a flood's victims staying banned
        zlistx_t *keys = zhashx_keys (self->banned);
        for (const char *key = (const char *) zlistx_first (keys); key;
             key = (const char *) zlistx_next (keys))
            s_is_banned (self, key, now_ms);
        zlistx_destroy (&keys);
        if (zhashx_size (self->banned) >= DISCOVERY_BANNED_MAX)
            zhashx_purge (self->banned);
    }
    uint64_t *until = (uint64_t *) zmalloc (sizeof (uint64_t));
    *until = now_ms + self->config.ban_ms;
    zhashx_update (self->banned, name, until);
}

static int
s_beacon (discovery_t *self, const char *address, const uint8_t *data, size_t size,
          uint64_t now_ms)
{
    if (!s_window_take (&self->beacons, DISCOVERY_RATE, now_ms))
        return DISCOVERY_RATE_LIMITED;
    beacon_t beacon;
    struct in_addr parsed;
    if (beacon_decode (&beacon, data, size) != 0
    ||  !address || strlen (address) > 15 || inet_pton (AF_INET, address, &parsed) != 1)
        return DISCOVERY_MALFORMED;
    if (memcmp (beacon.deployment, self->deployment, BEACON_FINGERPRINT_SIZE) != 0)
        return DISCOVERY_FOREIGN;
    if (memcmp (beacon.curve_key, self->own_key, WEFT_KEY_SIZE) == 0)
        return DISCOVERY_OWN;
    char hex [2 * WEFT_KEY_SIZE + 1];
    keys_hex (beacon.curve_key, WEFT_KEY_SIZE, hex);
    if (zhashx_lookup (self->excluded, hex))
        return DISCOVERY_CONFIGURED;
    char endpoint [DISCOVERY_ENDPOINT_MAX + 1];
    snprintf (endpoint, sizeof endpoint, "tcp://%s:%u", address, beacon.port);
    s_slot_t *free_slot = NULL;
    for (size_t i = 0; i < DISCOVERY_PEERS_MAX; i++) {
        s_slot_t *slot = &self->slots [i];
        if (!slot->used) {
            if (!free_slot)
                free_slot = slot;
            continue;
        }
        if (memcmp (slot->peer.key, beacon.curve_key, WEFT_KEY_SIZE) != 0)
            continue;
        if (streq (slot->peer.endpoint, endpoint)) {
            slot->seen_ms = now_ms;
            return DISCOVERY_REFRESHED;
        }
        if (slot->peer.verified)
            return DISCOVERY_DUPLICATE;
    }
    char ban_name [2 * WEFT_KEY_SIZE + DISCOVERY_ENDPOINT_MAX + 2];
    s_ban_name (beacon.curve_key, endpoint, ban_name, sizeof ban_name);
    if (s_is_banned (self, ban_name, now_ms))
        return DISCOVERY_BANNED;
    if (!free_slot)
        return DISCOVERY_FULL;
    if (!s_window_take (&self->news, DISCOVERY_NEW_RATE, now_ms))
        return DISCOVERY_RATE_LIMITED;
    memset (free_slot, 0, sizeof *free_slot);
    free_slot->used = true;
    free_slot->peer.slot = (size_t) (free_slot - self->slots);
    memcpy (free_slot->peer.key, beacon.curve_key, WEFT_KEY_SIZE);
    snprintf (free_slot->peer.endpoint, sizeof free_slot->peer.endpoint, "%s", endpoint);
    free_slot->seen_ms = now_ms;
    bool first = memcmp (self->own_key, beacon.curve_key, WEFT_KEY_SIZE) < 0;
    free_slot->dial_ms = first? now_ms: now_ms + self->config.yield_ms;
    self->next_scan_ms = 0;         //  Dial at once if it is our turn
    return DISCOVERY_NEW;
}

int
discovery_beacon (discovery_t *self, const char *address, const uint8_t *data,
                  size_t size, uint64_t now_ms)
{
    assert (self);
    int outcome = s_beacon (self, address, data, size, now_ms);
    self->stats.outcomes [outcome]++;
    return outcome;
}

int
discovery_next (discovery_t *self, uint64_t now_ms, discovery_peer_t *peer)
{
    assert (self && peer);
    if (self->cursor == 0 && now_ms < self->next_scan_ms)
        return 0;
    bool (*linked) (void *, const uint8_t *) = self->config.linked;
    while (self->cursor < DISCOVERY_PEERS_MAX) {
        s_slot_t *slot = &self->slots [self->cursor++];
        if (!slot->used)
            continue;
        bool silent = now_ms > slot->seen_ms + self->config.expire_ms;
        if (!slot->peer.dialled) {
            if (silent) {
                slot->used = false;
                self->stats.expired++;
                *peer = slot->peer;
                peer->why = "no beacon in time";
                return DISCOVERY_FORGET;
            }
            else
            if (now_ms >= slot->dial_ms) {
                if (linked (self->config.ctx, slot->peer.key))
                    //  It dialled us: look again later, in case that link goes
                    slot->dial_ms = now_ms + self->config.yield_ms;
                else {
                    slot->peer.dialled = true;
                    slot->dialled_ms = now_ms;
                    self->stats.dialled++;
                    *peer = slot->peer;
                    return DISCOVERY_DIAL;
                }
            }
            continue;
        }
        if (!slot->peer.verified && linked (self->config.ctx, slot->peer.key)) {
            slot->peer.verified = true;
            self->stats.verified++;
        }
        const char *why = NULL;
        if (!slot->peer.verified && now_ms > slot->dialled_ms + self->config.hello_ms) {
            char ban_name [2 * WEFT_KEY_SIZE + DISCOVERY_ENDPOINT_MAX + 2];
            s_ban_name (slot->peer.key, slot->peer.endpoint, ban_name, sizeof ban_name);
            s_ban (self, ban_name, now_ms);
            self->stats.unverified++;
            why = "no valid HELLO in time";
        }
        else
        if (silent) {
            self->stats.expired++;
            why = "no beacon in time";
        }
        if (why) {
            slot->used = false;
            *peer = slot->peer;
            peer->why = why;
            return DISCOVERY_DROP;
        }
    }
    self->cursor = 0;
    self->next_scan_ms = now_ms + DISCOVERY_SCAN_MS;
    return 0;
}

size_t
discovery_size (discovery_t *self)
{
    assert (self);
    size_t count = 0;
    for (size_t i = 0; i < DISCOVERY_PEERS_MAX; i++)
        count += self->slots [i].used;
    return count;
}

const discovery_stats_t *
discovery_stats (discovery_t *self)
{
    assert (self);
    return &self->stats;
}

//  --------------------------------------------------------------------------
//  Selftest

typedef struct {
    uint8_t linked [4][WEFT_KEY_SIZE];
    size_t count;
} s_test_mesh_t;

static bool
s_test_linked (void *ctx, const uint8_t key [WEFT_KEY_SIZE])
{
    s_test_mesh_t *mesh = (s_test_mesh_t *) ctx;
    for (size_t i = 0; i < mesh->count; i++)
        if (memcmp (mesh->linked [i], key, WEFT_KEY_SIZE) == 0)
            return true;
    return false;
}

static size_t
s_test_beacon (const uint8_t *ca_key, uint8_t key_byte, uint16_t port, uint8_t *data)
{
    beacon_t beacon = { .port = port };
    beacon_fingerprint (ca_key, beacon.deployment);
    memset (beacon.curve_key, key_byte, WEFT_KEY_SIZE);
    assert (beacon_encode (&beacon, data) == 0);
    return BEACON_SIZE;
}

//  Drain discovery_next at now; returns the number of actions of kind
static size_t
s_test_drain (discovery_t *discovery, uint64_t now, int kind, discovery_peer_t *last)
{
    size_t count = 0;
    discovery_peer_t peer;
    int action;
    while ((action = discovery_next (discovery, now, &peer)))
        if (action == kind) {
            count++;
            if (last)
                *last = peer;
        }
    return count;
}

void
discovery_test (bool verbose)
{
    printf (" * discovery: ");
    //  @selftest
    uint8_t ca_key [WEFT_KEY_SIZE], foreign_ca [WEFT_KEY_SIZE], own [WEFT_KEY_SIZE];
    memset (ca_key, 1, sizeof ca_key);
    memset (foreign_ca, 2, sizeof foreign_ca);
    memset (own, 0x50, sizeof own);
    s_test_mesh_t mesh = { .count = 0 };
    discovery_config_t config = {
        .own_key = own, .ca_key = ca_key, .hello_ms = 10000, .expire_ms = 5000,
        .ban_ms = 60000, .yield_ms = 3000, .linked = s_test_linked, .ctx = &mesh,
        .verbose = verbose
    };
    discovery_t *discovery = discovery_new (&config);
    uint8_t data [BEACON_SIZE];
    uint64_t now = 1000000;
    discovery_peer_t peer;

    //  Ignored: our own, another deployment, junk, a bad address, a configured key
    s_test_beacon (ca_key, 0x50, 7720, data);
    assert (discovery_beacon (discovery, "127.0.0.1", data, sizeof data, now) == DISCOVERY_OWN);
    s_test_beacon (foreign_ca, 0x60, 7720, data);
    assert (discovery_beacon (discovery, "127.0.0.1", data, sizeof data, now) == DISCOVERY_FOREIGN);
    assert (discovery_beacon (discovery, "127.0.0.1", data, 10, now) == DISCOVERY_MALFORMED);
    s_test_beacon (ca_key, 0x60, 7720, data);
    assert (discovery_beacon (discovery, "127.0.0.1:1", data, sizeof data, now) == DISCOVERY_MALFORMED);
    assert (discovery_beacon (discovery, NULL, data, sizeof data, now) == DISCOVERY_MALFORMED);
    uint8_t configured [WEFT_KEY_SIZE];
    memset (configured, 0x70, sizeof configured);
    discovery_exclude (discovery, configured);
    s_test_beacon (ca_key, 0x70, 7720, data);
    assert (discovery_beacon (discovery, "127.0.0.1", data, sizeof data, now) == DISCOVERY_CONFIGURED);
    assert (discovery_size (discovery) == 0);
    assert (s_test_drain (discovery, now, DISCOVERY_DIAL, NULL) == 0);

    //  A larger key than ours: dialled at once, once
    s_test_beacon (ca_key, 0x60, 7720, data);
    assert (discovery_beacon (discovery, "127.0.0.1", data, sizeof data, now) == DISCOVERY_NEW);
    assert (discovery_beacon (discovery, "127.0.0.1", data, sizeof data, now) == DISCOVERY_REFRESHED);
    assert (s_test_drain (discovery, now, DISCOVERY_DIAL, &peer) == 1);
    assert (streq (peer.endpoint, "tcp://127.0.0.1:7720") && peer.key [0] == 0x60);
    assert (s_test_drain (discovery, now + 300, DISCOVERY_DIAL, NULL) == 0);
    //  It verifies: kept while it beacons, dropped when silent
    memset (mesh.linked [mesh.count++], 0x60, WEFT_KEY_SIZE);
    assert (s_test_drain (discovery, now + 600, DISCOVERY_DROP, NULL) == 0);
    assert (discovery_stats (discovery)->verified == 1);
    assert (discovery_beacon (discovery, "127.0.0.1", data, sizeof data, now + 4000) == DISCOVERY_REFRESHED);
    assert (s_test_drain (discovery, now + 8000, DISCOVERY_DROP, NULL) == 0);
    assert (s_test_drain (discovery, now + 9500, DISCOVERY_DROP, &peer) == 1);
    assert (peer.key [0] == 0x60 && peer.slot == 0 && discovery_size (discovery) == 0);
    assert (discovery_stats (discovery)->expired == 1);
    mesh.count = 0;
    now += 10000;

    //  A smaller key: waits yield_ms, then dials only if it did not dial us
    s_test_beacon (ca_key, 0x40, 7721, data);
    assert (discovery_beacon (discovery, "10.0.0.2", data, sizeof data, now) == DISCOVERY_NEW);
    assert (s_test_drain (discovery, now, DISCOVERY_DIAL, NULL) == 0);
    memset (mesh.linked [mesh.count++], 0x40, WEFT_KEY_SIZE);
    assert (s_test_drain (discovery, now + 3000, DISCOVERY_DIAL, NULL) == 0);
    mesh.count = 0;                 //  Its link went: we dial it
    discovery_beacon (discovery, "10.0.0.2", data, sizeof data, now + 3000);
    assert (s_test_drain (discovery, now + 6300, DISCOVERY_DIAL, &peer) == 1);
    assert (streq (peer.endpoint, "tcp://10.0.0.2:7721"));
    //  Never verifies (a forged beacon): dropped after hello_ms, then banned
    discovery_beacon (discovery, "10.0.0.2", data, sizeof data, now + 12000);
    assert (s_test_drain (discovery, now + 16000, DISCOVERY_DROP, &peer) == 0);
    assert (s_test_drain (discovery, now + 16700, DISCOVERY_DROP, &peer) == 1);
    assert (streq (peer.why, "no valid HELLO in time"));
    assert (discovery_beacon (discovery, "10.0.0.2", data, sizeof data, now + 17000) == DISCOVERY_BANNED);
    //  The same key at another address is another pair (a forger cannot
    //  get the real peer banned by beaconing its key elsewhere)
    assert (discovery_beacon (discovery, "10.0.0.3", data, sizeof data, now + 17000) == DISCOVERY_NEW);
    //  The ban runs out
    assert (discovery_beacon (discovery, "10.0.0.2", data, sizeof data, now + 80000) == DISCOVERY_NEW);
    //  Peers never dialled that fall silent are forgotten (no link to close)
    assert (s_test_drain (discovery, now + 90000, DISCOVERY_DROP, NULL) == 0);
    assert (discovery_size (discovery) == 0);
    assert (discovery_stats (discovery)->expired == 3);
    now += 100000;

    //  Bounds: new peers at most DISCOVERY_NEW_RATE a second, beacons at
    //  most DISCOVERY_RATE, peers at most DISCOVERY_PEERS_MAX
    size_t outcomes [DISCOVERY_OUTCOMES] = { 0 };
    for (int i = 0; i < 100; i++) {
        s_test_beacon (ca_key, (uint8_t) (0x80 + i), 7720, data);
        outcomes [discovery_beacon (discovery, "127.0.0.1", data, sizeof data, now)]++;
    }
    assert (outcomes [DISCOVERY_NEW] == DISCOVERY_NEW_RATE);
    assert (outcomes [DISCOVERY_RATE_LIMITED] == 100 - DISCOVERY_NEW_RATE);
    s_test_beacon (ca_key, 0x60, 7720, data);
    for (int i = 0; i < DISCOVERY_RATE; i++)
        discovery_beacon (discovery, "127.0.0.1", data, sizeof data, now + 1000);
    assert (discovery_beacon (discovery, "127.0.0.1", data, sizeof data, now + 1000)
            == DISCOVERY_RATE_LIMITED);
    size_t added = 0, full = 0;
    for (int second = 2; second < 20; second++)
        for (int i = 0; i < 8; i++) {
            s_test_beacon (ca_key, (uint8_t) (0x90 + second * 8 + i), 7720, data);
            int outcome = discovery_beacon (discovery, "127.0.0.1", data, sizeof data,
                                            now + (uint64_t) second * 1000);
            added += outcome == DISCOVERY_NEW;
            full += outcome == DISCOVERY_FULL;
        }
    assert (discovery_size (discovery) == DISCOVERY_PEERS_MAX);
    assert (added == DISCOVERY_PEERS_MAX - DISCOVERY_NEW_RATE - 1 && full > 0);
    discovery_destroy (&discovery);
    discovery_destroy (&discovery);
    //  @end
    printf ("OK\n");
}
