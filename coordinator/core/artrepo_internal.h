/*  artrepo_internal - what artrepo.c and artrepo_serve.c share: the
    repository's state. Private to coordinator/core/artrepo*.c.  */

#ifndef WEFT_ARTREPO_INTERNAL_H_INCLUDED
#define WEFT_ARTREPO_INTERNAL_H_INCLUDED

#include "proto/bundle.h"
#include "proto/updmsg.h"
#include "coordinator/core/artrepo.h"

//  One upload in progress
typedef struct {
    char id [17];
    char owner [WEFT_NAME_MAX + 1];
    char tenant [WEFT_NAME_MAX + 1];
    uint64_t size, received, expires_ms;
    bundle_check_t *check;
    uint8_t *buf;                   //  Bytes of the record not yet whole
    size_t buf_size, buf_alloc;
    bool magic;                     //  The magic was checked
    uint32_t records;               //  Records staged
} artrepo_upload_t;

struct _artrepo_t {
    store_t *store;                 //  Not owned
    chunkstore_t *chunks;
    artrepo_upload_t *uploads [ARTREPO_UPLOADS_MAX];
    //  The addresses of the release served last (wants of one release
    //  come in runs): "tenant/manifest hash hex", and the set
    char served [WEFT_NAME_MAX + 66];
    zhashx_t *served_set;           //  Address hex -> 1
    //  The chunks of the releases the last asker with a have list holds
    //  (a site server's asks come in runs): "tenant/hex/hex..." and the set
    char having [WEFT_NAME_MAX + 1 + UPDMSG_HAVE_MAX * 65 + 1];
    zhashx_t *have_set;             //  Address hex -> 1
};

#endif
