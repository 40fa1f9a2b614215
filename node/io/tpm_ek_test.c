/*  tpm_ek_test - selftest of the EK a node presents (tpm_ek_type, and
    the TPM actor's "EK" request with type 0): the one the TPM's vendor
    certified, else the one its owner made persistent, else RSA-2048.
    One swtpm, provisioned step by step as vendors and owners do.  */

#include "node/io/tpm_internal.h"

#include <sodium.h>

//  The actor's answer to "EK" type: the type frame, and the public
static tpm_key_type_t
s_actor_ek (zactor_t *actor, byte type, zchunk_t **public_p)
{
    zmsg_t *request = zmsg_new ();
    zmsg_addstr (request, "EK");
    zmsg_addmem (request, &type, 1);
    zmsg_send (&request, actor);
    zmsg_t *reply = zmsg_recv (actor);
    char *status = zmsg_popstr (reply);
    assert (status && streq (status, "OK"));
    zstr_free (&status);
    assert (zmsg_size (reply) == 4);
    zframe_t *public = zmsg_first (reply);
    *public_p = zchunk_new (zframe_data (public), zframe_size (public));
    zframe_t *last = zmsg_last (reply);
    assert (zframe_size (last) == 1);
    tpm_key_type_t answer = (tpm_key_type_t) zframe_data (last) [0];
    zmsg_destroy (&reply);
    return answer;
}

void
tpm_ek_test (bool verbose)
{
    printf (" * tpm_ek: ");
    if (verbose)
        printf ("\n");
    //  @selftest
    tpm_swtpm_t *swtpm = tpm_swtpm_new (false);
    assert (swtpm);
    tpm_t *tpm = tpm_new (tpm_swtpm_tcti (swtpm));
    assert (tpm);
    tpm_key_type_t type = (tpm_key_type_t) 0;
    zchunk_t *rsa = NULL, *ecc = NULL;
    assert (tpm_ek_public (tpm, TPM_KEY_RSA, &rsa, NULL) == 0);
    assert (tpm_ek_public (tpm, TPM_KEY_ECC, &ecc, NULL) == 0);

    //  Nothing provisioned: RSA-2048, which the TPM implements
    assert (tpm_ek_type (tpm, &type) == 0 && type == TPM_KEY_RSA);
    //  The owner made the ECC EK persistent at its TCG handle: ECC
    assert (tpm_ek_persist (tpm, TPM_KEY_ECC, TPM_EK_PERSISTENT_ECC) == 0);
    assert (tpm_ek_type (tpm, &type) == 0 && type == TPM_KEY_ECC);
    //  The vendor certified the ECC P-256 EK (its certificate in NV; the
    //  node does not parse it, the verifier does): ECC, with that certificate
    byte cert [300];
    randombytes_buf (cert, sizeof cert);
    assert (tpm_nv_provision (tpm, TPM_NV_EK_CERT_ECC, cert, sizeof cert) == 0);
    assert (tpm_ek_type (tpm, &type) == 0 && type == TPM_KEY_ECC);
    zchunk_t *read = tpm_ek_cert (tpm, TPM_KEY_ECC);
    assert (read && zchunk_size (read) == sizeof cert
            && memcmp (zchunk_data (read), cert, sizeof cert) == 0);
    zchunk_destroy (&read);
    assert (tpm_ek_cert (tpm, TPM_KEY_RSA) == NULL);
    tpm_destroy (&tpm);             //  swtpm serves one client at a time

    //  Through the actor: type 0 presents the TPM's own, and says which
    zactor_t *actor = zactor_new (tpm_actor, (void *) tpm_swtpm_tcti (swtpm));
    zchunk_t *public = NULL;
    assert (s_actor_ek (actor, 0, &public) == TPM_KEY_ECC);
    assert (zchunk_size (public) == zchunk_size (ecc)
            && memcmp (zchunk_data (public), zchunk_data (ecc), zchunk_size (ecc)) == 0);
    zchunk_destroy (&public);
    //  ... and an explicit type still gets that one
    assert (s_actor_ek (actor, TPM_KEY_RSA, &public) == TPM_KEY_RSA);
    assert (zchunk_size (public) == zchunk_size (rsa)
            && memcmp (zchunk_data (public), zchunk_data (rsa), zchunk_size (rsa)) == 0);
    zchunk_destroy (&public);
    zactor_destroy (&actor);

    //  Certified RSA EK as well: RSA comes first, as most TPMs ship
    tpm = tpm_new (tpm_swtpm_tcti (swtpm));
    assert (tpm);
    assert (tpm_nv_provision (tpm, TPM_NV_EK_CERT_RSA, cert, sizeof cert) == 0);
    assert (tpm_ek_type (tpm, &type) == 0 && type == TPM_KEY_RSA);
    if (verbose)
        printf ("   nothing: RSA; persistent ECC EK: ECC; ECC certificate: ECC; "
                "RSA certificate too: RSA\n");
    //  A TPM that fails the question fails the answer, nothing guessed
    tpm_set_fault (tpm, 1);
    assert (tpm_ek_type (tpm, &type) == -1);
    tpm_set_fault (tpm, 0);
    tpm_destroy (&tpm);
    zchunk_destroy (&rsa);
    zchunk_destroy (&ecc);
    tpm_swtpm_destroy (&swtpm);
    //  @end
    printf ("OK\n");
}
