/*  node_internal - what node.c (the composer) and node_software.c (the
    software modules it binds: chunk exchange, updates, site campaigns)
    share: the node's state and the hooks between them  */

#ifndef WEFT_NODE_INTERNAL_H_INCLUDED
#define WEFT_NODE_INTERNAL_H_INCLUDED

#include "proto/envelope.h"
#include "node/core/node.h"
#include "node/core/sitecamp.h"
#include "node/core/entitle.h"

struct _node_t {
    node_links_t links;                 //  The transport
    mesh_t *mesh;
    agent_t *agent;
    delegate_t *delegate;
    chunkstore_t *chunks;               //  The node's one chunk store, or NULL
    fetch_t *fetch;                     //  Its exchange with the neighbours, or NULL
    update_t *update;                   //  Software updates, or NULL
    entitle_t *entitle;                 //  Entitlements held, with update, or NULL
    sitecamp_t *sitecamp;               //  Campaigns run at our site (a server), or NULL
    int32_t offset_s;                   //  Local time's offset from UTC (windows, budgets)
    //  What we use of our certificate (a cert_t is 5.5 KB, most of it
    //  an operator's grants; weft-sim hosts a node core per device)
    struct {
        char subject [WEFT_NAME_MAX + 1];
        char tenant [WEFT_NAME_MAX + 1];
        char role [WEFT_NAME_MAX + 1];
        char path [WEFT_NAME_MAX + 1];
    } cert;
    uint8_t coord_sign [WEFT_KEY_SIZE];
    bool quotes;                        //  We answer challenges (TPM)
    bool verbose;
    char challenger [WEFT_NAME_MAX + 1];    //  Who asked the quote in progress
    size_t distance;                    //  Hops to the coordinator last seen
    uint64_t timers [NODE_TIMERS];      //  Deadlines, 0 = disarmed
    uint64_t mesh_armed;                //  Mesh (and fetch) deadline last told as TIMER
    uint64_t now_ms;                    //  Time of the event under way
    node_action_t *ring;                //  capacity actions, NULL while none wait
    size_t capacity, head, count;
    node_action_t current;              //  The one node_next returned last
    uint64_t evidence_sent;
    uint64_t quotes_failed;
};

//  A new action at the end of the queue, or NULL if it is full
node_action_t *
    node_push (node_t *self, int kind);

//  The chunk store and its exchange (node_software.c). 0 or -1.
int
    node_fetch_start (node_t *self, const node_config_t *config, const char *prefix,
                      uint64_t now_ms);

//  The update module and, on a site server, its site campaigns, once
//  the agent runs. 0 or -1.
int
    node_software_start (node_t *self, const node_config_t *config, const char *prefix,
                         const char *tenant, uint64_t now_ms);

//  An envelope for us of the software modules (SITE_DIRECTIVE,
//  UPDATE_OFFER, UPDATE_STATUS): the status of its custody transfer,
//  or -1 if it is of another type
int
    node_software_deliver (node_t *self, const envelope_t *env,
                           char reason [WEFT_TEXT_MAX + 1]);

//  The maintenance window of the twin's desired document to the update
//  module, and its "link" (a metered uplink) to the chunk exchange
void
    node_window_from (node_t *self, const char *doc, size_t size);

//  Tell the update module whether a download waits for the metered
//  uplink (after the chunk exchange pumped)
void
    node_link_settle (node_t *self);

//  The mesh's effects the software modules take (see mesh.h)
bool
    node_software_local (void *ctx, const char *peer, const char *tenant,
                         const envelope_t *env);
void
    node_software_relaying (void *ctx, const envelope_t *env);
void
    node_software_upward (void *ctx, const envelope_t *env);

#endif
