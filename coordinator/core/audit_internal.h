/*  audit_internal - what audit.c and its selftest share: where a chain
    lives. Private to coordinator/core/audit*.c; callers use audit.h.  */

#ifndef WEFT_AUDIT_INTERNAL_H_INCLUDED
#define WEFT_AUDIT_INTERNAL_H_INCLUDED

#include "coordinator/core/audit.h"

#define AUDIT_HEAD_KEY  "audit_head"                //  In meta; "/<tenant>" for a tenant
#define AUDIT_KEY_MAX   (WEFT_NAME_MAX + 1 + 8)     //  Longest record key

//  Where a chain lives: the deployment's, or one tenant's
typedef struct {
    const char *tenant;             //  "" = the deployment
    const char *table;              //  "audit" or "audit_tenant"
    char prefix [WEFT_NAME_MAX + 2];    //  "" or "<tenant>/"
    size_t prefix_size;
    char head_key [sizeof AUDIT_HEAD_KEY + WEFT_NAME_MAX + 1];
} audit_chain_t;

//  Find tenant's chain ("" = the deployment's). 0, or -1 if tenant
//  cannot name a chain.
int
    audit_chain (const char *tenant, audit_chain_t *chain);

//  Key of record seq in the chain; returns its size
size_t
    audit_chain_key (const audit_chain_t *chain, uint64_t seq, uint8_t key [AUDIT_KEY_MAX]);

#endif
