/*  tpm_actor - a tpm_t in a thread of its own
    The request protocol is in tpm.h. Uses only the public API.  */

#include "node/io/tpm.h"

#include <openssl/crypto.h>
#include <sodium.h>

//  --------------------------------------------------------------------------
//  The TPM actor

//  Pop a frame of exactly size bytes (0: any size but empty); NULL if not

static zframe_t *
s_pop_frame (zmsg_t *msg, size_t size)
{
    zframe_t *frame = zmsg_pop (msg);
    if (frame && (size? zframe_size (frame) != size: zframe_size (frame) == 0))
        zframe_destroy (&frame);
    return frame;
}

//  A chunk copy of a frame's bytes

static zchunk_t *
s_frame_chunk (zframe_t *frame)
{
    return zchunk_new (zframe_data (frame), zframe_size (frame));
}

static bool
s_key_type_valid (byte type)
{
    return type == TPM_KEY_RSA || type == TPM_KEY_ECC;
}

//  Handle one request; returns the reply

static zmsg_t *
s_actor_request (tpm_t *self, const char *command, zmsg_t *request)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "OK");
    const char *error = "malformed request";
    zframe_t *first = NULL, *second = NULL, *third = NULL;
    zchunk_t *a = NULL, *b = NULL, *c = NULL, *d = NULL;

    if (!self)
        error = "TPM unavailable";
    else
    if (streq (command, "EK")) {
        first = s_pop_frame (request, 1);
        if (!first || (zframe_data (first) [0] && !s_key_type_valid (zframe_data (first) [0])))
            goto failed;
        tpm_key_type_t type = (tpm_key_type_t) zframe_data (first) [0];
        error = "cannot tell which EK the TPM has";
        if (!type && tpm_ek_type (self, &type))
            goto failed;
        error = "cannot create the EK";
        if (tpm_ek_public (self, type, &a, &b))
            goto failed;
        c = tpm_ek_cert (self, type);
        byte type_byte = (byte) type;
        zmsg_addmem (reply, zchunk_data (a), zchunk_size (a));
        zmsg_addmem (reply, zchunk_data (b), zchunk_size (b));
        zmsg_addmem (reply, c? zchunk_data (c): NULL, c? zchunk_size (c): 0);
        zmsg_addmem (reply, &type_byte, 1);
        goto done;
    }
    else
    if (streq (command, "AK")) {
        first = s_pop_frame (request, 1);
        second = s_pop_frame (request, 1);
        if (!first || !second
        ||  !s_key_type_valid (zframe_data (first) [0])
        ||  !s_key_type_valid (zframe_data (second) [0]))
            goto failed;
        error = "cannot create the AK";
        if (tpm_ak_create (self, (tpm_key_type_t) zframe_data (first) [0],
                           (tpm_key_type_t) zframe_data (second) [0], &a, &b, &c))
            goto failed;
        zmsg_addmem (reply, zchunk_data (a), zchunk_size (a));
        zmsg_addmem (reply, zchunk_data (b), zchunk_size (b));
        zmsg_addmem (reply, zchunk_data (c), zchunk_size (c));
        goto done;
    }
    else
    if (streq (command, "ACTIVATE")) {
        first = s_pop_frame (request, 0);
        second = s_pop_frame (request, 0);
        third = s_pop_frame (request, 0);
        if (!first || !second || !third)
            goto failed;
        a = s_frame_chunk (first);
        b = s_frame_chunk (second);
        c = s_frame_chunk (third);
        error = "credential refused";
        d = tpm_activate (self, a, b, c);
        if (!d)
            goto failed;
        zmsg_addmem (reply, zchunk_data (d), zchunk_size (d));
        sodium_memzero (zchunk_data (d), zchunk_size (d));
        goto done;
    }
    else
    if (streq (command, "QUOTE")) {
        first = s_pop_frame (request, 0);
        second = s_pop_frame (request, 4);
        third = s_pop_frame (request, 0);
        if (!first || !second || !third)
            goto failed;
        const byte *mask = zframe_data (second);
        a = s_frame_chunk (first);
        error = "cannot quote";
        if (tpm_quote (self, a,
                (uint32_t) mask [0] << 24 | mask [1] << 16 | mask [2] << 8 | mask [3],
                zframe_data (third), zframe_size (third), &b, &c))
            goto failed;
        zmsg_addmem (reply, zchunk_data (b), zchunk_size (b));
        zmsg_addmem (reply, zchunk_data (c), zchunk_size (c));
        goto done;
    }
    else
    if (streq (command, "PCR READ")) {
        first = s_pop_frame (request, 1);
        byte digest [32];
        if (!first)
            goto failed;
        error = "cannot read the PCR";
        if (tpm_pcr_read (self, zframe_data (first) [0], digest))
            goto failed;
        zmsg_addmem (reply, digest, sizeof digest);
        goto done;
    }
    else
    if (streq (command, "PCR EXTEND")) {
        first = s_pop_frame (request, 1);
        second = s_pop_frame (request, 32);
        if (!first || !second)
            goto failed;
        error = "cannot extend the PCR";
        if (tpm_pcr_extend (self, zframe_data (first) [0], zframe_data (second)))
            goto failed;
        goto done;
    }
    else
        error = "unknown request";
failed:
    zmsg_destroy (&reply);
    reply = zmsg_new ();
    zmsg_addstr (reply, "ERROR");
    zmsg_addstr (reply, error);
done:
    zframe_destroy (&first);
    zframe_destroy (&second);
    zframe_destroy (&third);
    zchunk_destroy (&a);
    zchunk_destroy (&b);
    zchunk_destroy (&c);
    zchunk_destroy (&d);
    return reply;
}

void
tpm_actor (zsock_t *pipe, void *args)
{
    tpm_t *self = tpm_new ((const char *) args);
    if (!self)
        zsys_warning ("tpm: no TPM; answering every request with an error");
    zsock_signal (pipe, 0);
    while (true) {
        zmsg_t *request = zmsg_recv (pipe);
        if (!request)
            break;                      //  interrupted
        char *command = zmsg_popstr (request);
        if (command && streq (command, "$TERM")) {
            zstr_free (&command);
            zmsg_destroy (&request);
            break;
        }
        zmsg_t *reply = s_actor_request (self, command? command: "", request);
        zmsg_send (&reply, pipe);
        zstr_free (&command);
        zmsg_destroy (&request);
    }
    tpm_destroy (&self);
    //  ESYS's crypto left OpenSSL state in this thread: free it now, as
    //  the process may exit before a detached thread's TLS destructors run
    OPENSSL_thread_stop ();
}
