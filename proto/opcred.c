/*  opcred - operator credentials verified offline
    The checks run in the order of opcred.h and the first failure is
    the answer, so a forged credential is reported as forged even when
    its (unverified) validity has also run out. A revocation names the
    CURVE key, which is unique to one operator or device across the
    deployment, so the one revocation list serves nodes and operators.  */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "keys.h"
#include "opcred.h"

//  The roles, their permissions, and what a grant of each may do to
//  operators holding each other role (docs/security.md, "Role map").
//  Columns of manage: viewer, operator, auditor, security-officer,
//  admin. A grant never gives a role whose permissions the granter's
//  role lacks (a security officer cannot write, so cannot make an
//  operator), and a security officer does not touch its peers or the
//  admins above it.
#define G   OPCRED_GRANT
#define R   OPCRED_REMOVE
#define M   OPCRED_MANAGE

static const struct {
    const char *name;
    int perms;
    int manage [5];                     //  Actions on each target role
} s_roles [] = {
    { "viewer", OPCRED_P_READ, { 0, 0, 0, 0, 0 } },
    { "operator", OPCRED_P_READ | OPCRED_P_WRITE, { 0, 0, 0, 0, 0 } },
    { "auditor", OPCRED_P_READ | OPCRED_P_AUDIT, { 0, 0, 0, 0, 0 } },
    { "security-officer", OPCRED_P_READ | OPCRED_P_AUDIT | OPCRED_P_OPERATORS
                        | OPCRED_P_REVOKE, { G|R|M, R|M, G|R|M, 0, 0 } },
    { "admin", OPCRED_P_READ | OPCRED_P_WRITE | OPCRED_P_ADMIN | OPCRED_P_AUDIT
             | OPCRED_P_OPERATORS | OPCRED_P_REVOKE, { G|R|M, G|R|M, G|R|M, G|R|M, G|R|M } },
    { NULL, 0, { 0 } }
};
#undef G
#undef R
#undef M

//  Index of a role in s_roles, or -1
static int
s_role_index (const char *role)
{
    for (int i = 0; role && s_roles [i].name; i++)
        if (strcmp (s_roles [i].name, role) == 0)
            return i;
    return -1;
}

int
opcred_role_perms (const char *role)
{
    int index = s_role_index (role);
    return index < 0? 0: s_roles [index].perms;
}

bool
opcred_may_manage (const char *actor_role, int action, const char *target_role)
{
    int actor = s_role_index (actor_role);
    int target = s_role_index (target_role);
    return actor >= 0 && target >= 0 && action
        && (s_roles [actor].manage [target] & action) == action;
}

const char *
opcred_role_name (size_t index)
{
    return index < sizeof s_roles / sizeof s_roles [0]? s_roles [index].name: NULL;
}

const char *
opcred_perm_name (int perm)
{
    switch (perm) {
        case OPCRED_P_READ:         return "read";
        case OPCRED_P_WRITE:        return "write";
        case OPCRED_P_ADMIN:        return "admin";
        case OPCRED_P_AUDIT:        return "audit";
        case OPCRED_P_OPERATORS:    return "operators";
        case OPCRED_P_REVOKE:       return "revoke";
        default:                    return NULL;
    }
}

bool
opcred_covers (const char *grant, const char *path)
{
    assert (grant && path);
    if (*grant == 0)
        return true;
    size_t len = strlen (grant);
    return strncmp (path, grant, len) == 0 && (path [len] == 0 || path [len] == '/');
}

static void
s_reason (char *reason, const char *format, ...)
{
    if (!reason)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (reason, WEFT_TEXT_MAX + 1, format, args);
    va_end (args);
}

//  --------------------------------------------------------------------------
//  Verify a credential.

int
opcred_verify (cert_t *cred, const uint8_t *data, size_t size,
               const uint8_t ca_key [WEFT_KEY_SIZE], uint64_t now_s,
               const uint8_t *revoked_keys, size_t revoked_count,
               char reason [WEFT_TEXT_MAX + 1])
{
    assert (cred && ca_key);
    assert (revoked_keys || revoked_count == 0);
    s_reason (reason, "");
    cert_t got;
    int rc = data? cert_decode (&got, data, size, ca_key, 0): PROTO_ERR_TYPE;
    if (rc == PROTO_ERR_SIGNATURE || rc == PROTO_ERR_UNSIGNED) {
        s_reason (reason, "credential not signed by the deployment CA");
        return OPCRED_FORGED;
    }
    if (rc) {
        s_reason (reason, "credential malformed: %s", proto_strerror (rc));
        return OPCRED_MALFORMED;
    }
    if (got.kind != CERT_KIND_OPERATOR) {
        s_reason (reason, "certificate of %s is not an operator credential", got.subject);
        return OPCRED_NOT_OPERATOR;
    }
    if (now_s < got.not_before) {
        s_reason (reason, "credential of %s not valid before %llu", got.subject,
                  (unsigned long long) got.not_before);
        return OPCRED_NOT_YET_VALID;
    }
    if (now_s > got.not_after) {
        s_reason (reason, "credential of %s expired at %llu", got.subject,
                  (unsigned long long) got.not_after);
        return OPCRED_EXPIRED;
    }
    for (size_t i = 0; i < revoked_count; i++)
        if (memcmp (revoked_keys + i * WEFT_KEY_SIZE, got.curve_key, WEFT_KEY_SIZE) == 0) {
            s_reason (reason, "credential of %s is revoked", got.subject);
            return OPCRED_REVOKED;
        }
    *cred = got;
    return OPCRED_OK;
}

//  --------------------------------------------------------------------------
//  May the credential act as role on path of tenant?

int
opcred_may (const cert_t *cred, const char *role, const char *tenant,
            const char *path, char reason [WEFT_TEXT_MAX + 1])
{
    assert (cred && role && tenant && path);
    s_reason (reason, "");
    int wanted = opcred_role_perms (role);
    const char *target = *path? path: tenant;
    if (wanted == 0) {
        s_reason (reason, "unknown role %.64s", role);
        return OPCRED_NOT_GRANTED;
    }
    size_t tenant_size = strlen (tenant);
    if (*path && *tenant
    &&  !(strncmp (path, tenant, tenant_size) == 0
          && (path [tenant_size] == 0 || path [tenant_size] == '/'))) {
        s_reason (reason, "path %.100s is not in tenant %.64s", path, tenant);
        return OPCRED_NOT_GRANTED;
    }
    //  Only the list grants: no list, no rights (never a fallback to
    //  the role fields, which an operator keeps after its last grant)
    const cert_grant_t *grants = cred->grants;
    size_t count = cred->grant_count;
    for (size_t i = 0; i < count; i++) {
        int held = opcred_role_perms (grants [i].role);
        if ((held & wanted) == wanted && opcred_covers (grants [i].path, target))
            return OPCRED_OK;
    }
    s_reason (reason, "%s holds no grant of %s on %.120s", cred->subject, role,
              *target? target: "everything");
    return OPCRED_NOT_GRANTED;
}

//  --------------------------------------------------------------------------
//  Selftest

void
opcred_test (bool verbose)
{
    printf (" * opcred: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    keys_t ca, rogue, op, other;
    keys_generate (&ca);
    keys_generate (&rogue);
    keys_generate (&op);
    keys_generate (&other);
    const uint64_t now = 1767225600;
    cert_t cert;
    memset (&cert, 0, sizeof cert);
    cert.serial = 5;
    cert.kind = CERT_KIND_OPERATOR;
    strcpy (cert.subject, "pete");
    strcpy (cert.tenant, "acme");
    strcpy (cert.role, "operator");
    strcpy (cert.path, "acme/plant-2");
    memcpy (cert.sign_key, op.sign_public, WEFT_KEY_SIZE);
    memcpy (cert.curve_key, op.curve_public, WEFT_KEY_SIZE);
    cert.not_before = now - 10;
    cert.not_after = now + 3600;
    cert.grant_count = 3;
    strcpy (cert.grants [0].role, "operator");
    strcpy (cert.grants [0].path, "acme/plant-2");
    strcpy (cert.grants [1].role, "viewer");
    strcpy (cert.grants [1].path, "acme/plant-1/line-3");
    strcpy (cert.grants [2].role, "auditor");
    strcpy (cert.grants [2].path, "globex");
    uint8_t *data;
    size_t size;
    assert (cert_encode (&cert, ca.sign_secret, &data, &size) == 0);
    char reason [WEFT_TEXT_MAX + 1];

    //  Valid: every grant counts, not only the first
    cert_t cred;
    assert (opcred_verify (&cred, data, size, ca.sign_public, now, NULL, 0, reason) == OPCRED_OK);
    assert (cred.grant_count == 3 && *reason == 0);
    assert (opcred_may (&cred, "viewer", "acme", "acme/plant-2/line-7", reason) == OPCRED_OK);
    assert (opcred_may (&cred, "operator", "acme", "acme/plant-2", reason) == OPCRED_OK);
    assert (opcred_may (&cred, "viewer", "acme", "acme/plant-1/line-3/pump-a", NULL) == OPCRED_OK);
    assert (opcred_may (&cred, "auditor", "globex", "globex/x", NULL) == OPCRED_OK);
    assert (opcred_may (&cred, "viewer", "globex", "", NULL) == OPCRED_OK);

    //  Another subtree, a sibling with a common prefix, another tenant,
    //  a stronger role, a path outside the tenant named
    assert (opcred_may (&cred, "viewer", "acme", "acme/plant-1", reason) == OPCRED_NOT_GRANTED);
    if (verbose)
        printf ("   %s\n", reason);
    assert (strstr (reason, "pete holds no grant of viewer on acme/plant-1"));
    assert (opcred_may (&cred, "viewer", "acme", "acme/plant-20", NULL) == OPCRED_NOT_GRANTED);
    assert (opcred_may (&cred, "viewer", "initech", "initech/a", NULL) == OPCRED_NOT_GRANTED);
    assert (opcred_may (&cred, "viewer", "acme", "", NULL) == OPCRED_NOT_GRANTED);
    assert (opcred_may (&cred, "operator", "acme", "acme/plant-1/line-3", NULL)
            == OPCRED_NOT_GRANTED);
    assert (opcred_may (&cred, "admin", "acme", "acme/plant-2", NULL) == OPCRED_NOT_GRANTED);
    assert (opcred_may (&cred, "viewer", "globex", "acme/plant-2", reason) == OPCRED_NOT_GRANTED);
    assert (strstr (reason, "is not in tenant globex"));
    assert (opcred_may (&cred, "viewer", "acm", "acme/plant-2", NULL) == OPCRED_NOT_GRANTED);
    assert (opcred_may (&cred, "root", "acme", "acme/plant-2", reason) == OPCRED_NOT_GRANTED);
    assert (strstr (reason, "unknown role root"));

    //  Validity: inclusive at both ends
    assert (opcred_verify (&cred, data, size, ca.sign_public, now - 10, NULL, 0, NULL) == 0);
    assert (opcred_verify (&cred, data, size, ca.sign_public, now + 3600, NULL, 0, NULL) == 0);
    assert (opcred_verify (&cred, data, size, ca.sign_public, now + 3601, NULL, 0, reason)
            == OPCRED_EXPIRED);
    assert (strstr (reason, "credential of pete expired at"));
    assert (opcred_verify (&cred, data, size, ca.sign_public, now - 11, NULL, 0, reason)
            == OPCRED_NOT_YET_VALID);

    //  Revoked: its CURVE key on the list, among others
    uint8_t revoked [3 * WEFT_KEY_SIZE];
    memcpy (revoked, other.curve_public, WEFT_KEY_SIZE);
    memcpy (revoked + WEFT_KEY_SIZE, op.curve_public, WEFT_KEY_SIZE);
    memcpy (revoked + 2 * WEFT_KEY_SIZE, other.sign_public, WEFT_KEY_SIZE);
    assert (opcred_verify (&cred, data, size, ca.sign_public, now, revoked, 1, NULL) == OPCRED_OK);
    memset (&cred, 0x5a, sizeof cred);
    cert_t untouched = cred;
    assert (opcred_verify (&cred, data, size, ca.sign_public, now, revoked, 3, reason)
            == OPCRED_REVOKED);
    assert (strstr (reason, "credential of pete is revoked"));
    assert (memcmp (&cred, &untouched, sizeof cred) == 0);      //  Filled only on OK

    //  Forged: signed by another CA, or one bit changed; forged wins
    //  over expired
    uint8_t *forged;
    size_t forged_size;
    assert (cert_encode (&cert, rogue.sign_secret, &forged, &forged_size) == 0);
    assert (opcred_verify (&cred, forged, forged_size, ca.sign_public, now + 99999, NULL, 0, reason)
            == OPCRED_FORGED);
    assert (strstr (reason, "not signed by the deployment CA"));
    free (forged);
    for (size_t at = 0; at < size; at++) {
        data [at] ^= 0x20;
        int rc = opcred_verify (&cred, data, size, ca.sign_public, now, NULL, 0, NULL);
        assert (rc == OPCRED_FORGED || rc == OPCRED_MALFORMED);
        data [at] ^= 0x20;
    }
    assert (opcred_verify (&cred, data, size - 1, ca.sign_public, now, NULL, 0, reason)
            == OPCRED_MALFORMED);
    assert (opcred_verify (&cred, NULL, 0, ca.sign_public, now, NULL, 0, NULL) == OPCRED_MALFORMED);
    free (data);

    //  A node certificate is no operator credential
    cert_t node = cert;
    node.kind = CERT_KIND_NODE;
    node.grant_count = 0;
    strcpy (node.role, "server");
    assert (cert_encode (&node, ca.sign_secret, &data, &size) == 0);
    assert (opcred_verify (&cred, data, size, ca.sign_public, now, NULL, 0, reason)
            == OPCRED_NOT_OPERATOR);
    free (data);

    //  A credential without the list (an operator left with no grant, or
    //  one issued before grant lists) grants nothing, whatever its role,
    //  tenant and path fields say
    cert_t old = cert;
    old.grant_count = 0;
    assert (cert_encode (&old, ca.sign_secret, &data, &size) == 0);
    assert (opcred_verify (&cred, data, size, ca.sign_public, now, NULL, 0, NULL) == OPCRED_OK);
    assert (opcred_may (&cred, "operator", "acme", "acme/plant-2/x", reason)
            == OPCRED_NOT_GRANTED);
    assert (strstr (reason, "pete holds no grant of operator on acme/plant-2/x"));
    assert (opcred_may (&cred, "viewer", "acme", "", NULL) == OPCRED_NOT_GRANTED);
    free (data);
    old.path [0] = 0;
    assert (cert_encode (&old, ca.sign_secret, &data, &size) == 0);
    assert (opcred_verify (&cred, data, size, ca.sign_public, now, NULL, 0, NULL) == OPCRED_OK);
    assert (opcred_may (&cred, "viewer", "acme", "acme/plant-1", NULL) == OPCRED_NOT_GRANTED);
    free (data);

    //  A global grant covers every tenant
    cert_t global = cert;
    global.grant_count = 1;
    strcpy (global.grants [0].role, "viewer");
    global.grants [0].path [0] = 0;
    assert (cert_encode (&global, ca.sign_secret, &data, &size) == 0);
    assert (opcred_verify (&cred, data, size, ca.sign_public, now, NULL, 0, NULL) == OPCRED_OK);
    assert (opcred_may (&cred, "viewer", "initech", "initech/a/b", NULL) == OPCRED_OK);
    assert (opcred_may (&cred, "operator", "initech", "", NULL) == OPCRED_NOT_GRANTED);
    free (data);

    //  Roles
    assert (opcred_role_perms ("admin") & OPCRED_P_OPERATORS);
    assert (opcred_role_perms ("viewer") == OPCRED_P_READ);
    assert (opcred_role_perms ("Admin") == 0 && opcred_role_perms (NULL) == 0);
    assert (opcred_covers ("", "x") && opcred_covers ("a/b", "a/b") && opcred_covers ("a/b", "a/b/c"));

    //  The role map: admins manage everyone; a security officer gives
    //  only what it holds, takes away and revokes below itself, and
    //  never touches a peer or an admin; the others manage nobody
    assert (opcred_may_manage ("admin", OPCRED_GRANT, "admin"));
    assert (opcred_may_manage ("admin", OPCRED_MANAGE, "security-officer"));
    assert (opcred_may_manage ("security-officer", OPCRED_GRANT, "viewer"));
    assert (opcred_may_manage ("security-officer", OPCRED_GRANT, "auditor"));
    assert (!opcred_may_manage ("security-officer", OPCRED_GRANT, "operator"));
    assert (opcred_may_manage ("security-officer", OPCRED_REMOVE | OPCRED_MANAGE, "operator"));
    assert (!opcred_may_manage ("security-officer", OPCRED_MANAGE, "security-officer"));
    assert (!opcred_may_manage ("security-officer", OPCRED_MANAGE, "admin"));
    assert (!opcred_may_manage ("security-officer", OPCRED_REMOVE, "admin"));
    assert (!opcred_may_manage ("operator", OPCRED_GRANT, "viewer"));
    assert (!opcred_may_manage ("admin", OPCRED_GRANT, "root"));
    assert (!opcred_may_manage ("root", OPCRED_GRANT, "viewer"));
    assert (!opcred_may_manage ("admin", 0, "viewer"));
    //  No cell gives a role whose permissions the giver lacks
    for (size_t a = 0; opcred_role_name (a); a++)
        for (size_t t = 0; opcred_role_name (t); t++) {
            int held = opcred_role_perms (opcred_role_name (a));
            int wanted = opcred_role_perms (opcred_role_name (t));
            if (opcred_may_manage (opcred_role_name (a), OPCRED_GRANT, opcred_role_name (t)))
                assert ((held & wanted) == wanted);
        }
    assert (strcmp (opcred_role_name (0), "viewer") == 0 && opcred_role_name (5) == NULL);
    assert (!opcred_covers ("a/b", "a/bc") && !opcred_covers ("a/b", "a"));
    keys_wipe (&ca);
    keys_wipe (&rogue);
    keys_wipe (&op);
    keys_wipe (&other);
    //  @end
    printf ("OK\n");
}
