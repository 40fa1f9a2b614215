/*  opserver - weft-node's operator port for offline requests
    A CURVE ROUTER (ZAP domain "ops") on which operators on site call
    the methods of node/core/oplocal.h, authorised by their
    credential alone, so they work while the site is cut off from the
    coordinator. ZAP admits any key (User-Id = the key in hex): the
    credential in each request must be for that very key. Frames are
    [routing id, (empty,) envelope]; the reply mirrors the shape.  */

#ifndef WEFT_OPSERVER_H_INCLUDED
#define WEFT_OPSERVER_H_INCLUDED

#include <czmq.h>
#include "node/core/oplocal.h"

typedef struct _opserver_t opserver_t;

//  Bind endpoint (a ZAP handler must already run in this process).
//  Returns NULL and logs if it cannot bind.
opserver_t *
    opserver_new (const char *endpoint, const oplocal_config_t *config,
                  oplocal_call_fn *call, void *ctx);

void
    opserver_destroy (opserver_t **self_p);

//  The socket, for a zpoller.
zsock_t *
    opserver_sock (opserver_t *self);

//  Port bound (for an ephemeral "*" endpoint).
int
    opserver_port (opserver_t *self);

//  Answer the requests waiting, against the operators' keys on the
//  revocation list held. Never blocks.
void
    opserver_handle (opserver_t *self, uint64_t now_ms, const uint8_t *revoked,
                     size_t revoked_count);

//  Admission for the "ops" domain (fits zap_fn's shape): any key.
bool
    opserver_admit (const uint8_t client_key [32], char user_id [65]);

void
    opserver_test (bool verbose);

#endif
