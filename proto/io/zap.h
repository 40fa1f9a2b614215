/*  zap - a ZeroMQ Authentication Protocol (RFC 27) handler
    libzmq asks the ZAP handler of its context, a REP socket bound to
    inproc://zeromq.zap.01, whether each CURVE client may connect. This
    handler answers from a callback, so each daemon decides per ZAP
    domain and client key, and names the peer with the User-Id that the
    receiver then reads from every frame (zframe_meta "User-Id").
    Create it BEFORE binding any socket that sets a ZAP domain, and poll
    zap_sock () in the same loop that serves those sockets: libzmq holds
    the handshake until the reply arrives, so a handler that is never
    polled admits no one. Only the CURVE mechanism is admitted.  */

#ifndef WEFT_ZAP_H_INCLUDED
#define WEFT_ZAP_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include "proto/proto.h"

#define ZAP_ENDPOINT        "inproc://zeromq.zap.01"
#define ZAP_USER_ID_MAX     64      //  Longest User-Id a callback may set

typedef struct _zap_t zap_t;

//  Decide one connection. domain is the server socket's ZAP domain,
//  address the peer's IP address as libzmq gives it ("" if none),
//  client_key the peer's CURVE public key (proven by the handshake).
//  Return true to admit and write a NUL-terminated User-Id of at most
//  ZAP_USER_ID_MAX characters into user_id.
typedef bool (zap_fn) (void *arg, const char *domain, const char *address,
                       const uint8_t client_key [32],
                       char user_id [ZAP_USER_ID_MAX + 1]);

//  Bind the handler in CZMQ's context. Returns NULL and logs if the
//  endpoint is taken (another handler, e.g. zauth, already runs).
zap_t *
    zap_new (zap_fn *fn, void *arg);

void
    zap_destroy (zap_t **self_p);

//  Log each refusal (at debug level); off by default, so a port scan
//  does not fill the log.
void
    zap_set_verbose (zap_t *self, bool verbose);

//  The REP socket, for a zpoller.
zsock_t *
    zap_sock (zap_t *self);

//  Read one request and answer it. Never blocks when the socket is
//  readable. Returns 0, -1 if interrupted, PROTO_ERR_REFUSED if the
//  request was malformed (answered with 400 when it could be, else
//  dropped).
int
    zap_handle (zap_t *self);

//  Number of requests admitted and refused so far.
uint64_t
    zap_admitted (zap_t *self);
uint64_t
    zap_refused (zap_t *self);

void
    zap_test (bool verbose);

#endif
