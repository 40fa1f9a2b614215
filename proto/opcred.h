/*  opcred - operator credentials verified offline
    An operator credential is a CA-signed operator certificate that
    lists the operator's grants (proto/cert.h). A site server cut off
    from the coordinator decides with it alone, and with the revocation
    list it holds, whether an operator may do something there:
        1. it chains to the deployment CA (signature), is an operator
           certificate, and is valid now (not_before <= now <= not_after);
        2. its CURVE key is not on the revocation list;
        3. one of its grants holds every permission of the role asked
           for, on a subtree that covers the path asked for.
    The roles and their permissions are defined here once, for the
    coordinator's authorization (coordinator/core/rpc.c) and for site
    servers alike. No I/O, no clock: the caller passes the time.  */

#ifndef WEFT_OPCRED_H_INCLUDED
#define WEFT_OPCRED_H_INCLUDED

#include "proto.h"
#include "cert.h"

//  Permissions; a role is a set of them
#define OPCRED_P_READ       1       //  Devices, twins, hierarchy
#define OPCRED_P_WRITE      2       //  Twins, metadata, batches
#define OPCRED_P_ADMIN      4       //  Tokens, hierarchy import
#define OPCRED_P_AUDIT      8       //  Audit log
#define OPCRED_P_OPERATORS  16      //  Operators and grants
#define OPCRED_P_REVOKE     32      //  Revoke devices

typedef enum {
    OPCRED_OK = 0,
    OPCRED_MALFORMED = 1,           //  Not a certificate
    OPCRED_FORGED = 2,              //  Not signed by the deployment CA
    OPCRED_NOT_OPERATOR = 3,        //  A node or coordinator certificate
    OPCRED_NOT_YET_VALID = 4,
    OPCRED_EXPIRED = 5,
    OPCRED_REVOKED = 6,             //  Its CURVE key is on the list
    OPCRED_NOT_GRANTED = 7          //  Valid, but no grant covers the request
} opcred_status_t;

//  Permissions of a role, 0 for an unknown role.
int
    opcred_role_perms (const char *role);

//  What an operator may do to other operators: the role map of
//  docs/security.md, defined once here. An action names a role (the
//  target role):
#define OPCRED_GRANT        1       //  Give the role (operator.add, operator.grant)
#define OPCRED_REMOVE       2       //  Take the role away (operator.grant --remove)
#define OPCRED_MANAGE       4       //  Change the grants of, or revoke, an operator
                                    //  that holds the role

//  May a grant of actor_role do action (one OPCRED_GRANT/REMOVE/MANAGE)
//  on target_role? False for an unknown role on either side.
bool
    opcred_may_manage (const char *actor_role, int action, const char *target_role);

//  The name of the index-th role, in the role map's order, or NULL
//  past the last one.
const char *
    opcred_role_name (size_t index);

//  The name of one permission bit as docs/protocol.md writes it (read,
//  write, admin, audit, operators, revoke), NULL for another value.
const char *
    opcred_perm_name (int perm);

//  Does the subtree grant ("" = everything) cover path? "acme/plant-2"
//  covers itself and "acme/plant-2/x", not "acme/plant-20".
bool
    opcred_covers (const char *grant, const char *path);

//  Verify an encoded credential against the CA key at now_s and the
//  revocation list (revoked_count CURVE keys of 32 bytes, may be NULL
//  if 0). Returns an opcred_status_t; on OK fills cred. reason (may be
//  NULL) gets a short sentence for the refusal, e.g. "credential of
//  olga expired at 1767225600".
int
    opcred_verify (cert_t *cred, const uint8_t *data, size_t size,
                   const uint8_t ca_key [WEFT_KEY_SIZE], uint64_t now_s,
                   const uint8_t *revoked_keys, size_t revoked_count,
                   char reason [WEFT_TEXT_MAX + 1]);

//  May a verified credential act as role on path of tenant? path ""
//  means the tenant as a whole; otherwise its first segment must be the
//  tenant. Only the grant list counts: a credential without one (an
//  operator with no grant left, or one issued before grant lists)
//  grants nothing. Returns OPCRED_OK or OPCRED_NOT_GRANTED with reason.
int
    opcred_may (const cert_t *cred, const char *role, const char *tenant,
                const char *path, char reason [WEFT_TEXT_MAX + 1]);

void
    opcred_test (bool verbose);

#endif
