#!/usr/bin/env bash
#   70-tpm-ecc-ek - a TPM whose vendor certified its ECC NIST P-256 EK
#   (and no RSA one) onboards with that EK. The test plays the vendor: a
#   P-256 CA (openssl) certifies the swtpm's ECC EK, and the certificate
#   goes to NV index 0x01c0000a (tpm2_nvdefine/nvwrite). weft-node, with
#   no --ek-type, presents the ECC EK and its certificate; the coordinator
#   checks it against its --ek-ca bundle, makes the credential with an
#   ECDH seed, and the TPM activates it. First the vendor's certificate
#   has the wrong key usage for an ECC EK (keyEncipherment): refused,
#   saying exactly that; then the right one (keyAgreement): enrolled.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tpm-lib.sh"
command -v tpm2_nvdefine > /dev/null || { echo "SKIP: tpm2-tools not installed"; exit 0; }

say "the vendor: a P-256 CA, and a certificate of the TPM's ECC EK"
"$NODE" --data-dir "$T/ek" --tpm "$TCTI" --ek-type ecc --write-ek "$T/ecc.ek" > "$T/ek.log" 2>&1 \
    || fail "--write-ek failed: $(cat "$T/ek.log")"
python3 - "$T/ecc.ek" "$T/ek.pem" <<'PY'
import base64, struct, sys
public = open(sys.argv[1], "rb").read()
assert struct.unpack_from(">H", public, 2)[0] == 0x0023      # TPM2_ALG_ECC
assert public[-68:-66] == b"\0\x20" and public[-34:-32] == b"\0\x20"
x, y = public[-66:-34], public[-32:]
spki = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200") + b"\4" + x + y
pem = base64.encodebytes(spki).decode().replace("\n", "")
open(sys.argv[2], "w").write("-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n"
                             % "\n".join(pem[i:i + 64] for i in range(0, len(pem), 64)))
PY
openssl ecparam -name prime256v1 -genkey -noout -out "$T/ca.key" 2>/dev/null || fail "CA key"
openssl req -new -x509 -key "$T/ca.key" -subj "/O=Test TPM Vendor/CN=Test EK Root" \
    -days 3650 -out "$T/ca.pem" 2>/dev/null || fail "CA certificate"
openssl ecparam -name prime256v1 -genkey -noout -out "$T/dummy.key" 2>/dev/null
openssl req -new -key "$T/dummy.key" -subj "/CN=ignored" -out "$T/ek.csr" 2>/dev/null
ek_cert () {    #   ek_cert USAGE OUT.der
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,%s\nextendedKeyUsage=2.23.133.8.1\n' \
        "$1" > "$T/ek.ext"
    openssl x509 -req -in "$T/ek.csr" -force_pubkey "$T/ek.pem" -CA "$T/ca.pem" \
        -CAkey "$T/ca.key" -CAcreateserial -days 3650 -extfile "$T/ek.ext" \
        -outform der -out "$2" 2>/dev/null || fail "EK certificate ($1)"
}
#   provision FILE: the certificate at the ECC EK certificate's NV index
provision () {
    tpm2_nvundefine -T "$TCTI" -C o 0x01c0000a > /dev/null 2>&1
    tpm2_nvdefine -T "$TCTI" -C o -s "$(stat -c %s "$1")" \
        -a "ownerread|ownerwrite|authread|no_da" 0x01c0000a > /dev/null \
        && tpm2_nvwrite -T "$TCTI" -C o -i "$1" 0x01c0000a > /dev/null \
        || fail "cannot write $1 to NV 0x01c0000a"
}
ek_cert keyEncipherment "$T/ek-wrong-usage.der"
ek_cert keyAgreement "$T/ek-good.der"

start_coord --ek-ca "$T/ca.pem"
COORD_KEY=$(keyfile_value "$WEFT_IDENTITY" coord_curve)

say "a certificate with an RSA EK's key usage: refused, saying so"
provision "$T/ek-wrong-usage.der"
out=$(run_node box-e --tpm "$TCTI" --coord-key "$COORD_KEY") && fail "enrolled: $out"
grep -q "the TPM's EK is ECC NIST P-256" <<< "$out" || fail "the node did not present its ECC EK: $out"
grep -q "EK certificate refused: EK certificate's key usage is not an EK's: an ECC EK needs keyAgreement" \
    <<< "$out" || fail "refusal does not name the key usage: $out"

say "the vendor's right certificate: the ECC EK onboards, credential activated"
provision "$T/ek-good.der"
start_node box-e --tpm "$TCTI" --coord-key "$COORD_KEY"
wait_for 'is_online box-e' 30 || fail "box-e did not come online: $(tail -5 "$T/box-e.log")"
grep -q "enrolled as box-e .* by TPM credential activation" "$T/box-e.log" \
    || fail "not enrolled by activation: $(tail -5 "$T/box-e.log")"
show=$(ctl --json device show box-e)
[[ "$(jget assurance <<< "$show")" == tpm ]] || fail "not TPM-backed: $show"
[[ "$(jget ek_via <<< "$show")" == ek-cert ]] || fail "not accepted by its certificate: $show"
grep -q "enrolled device box-e by TPM credential activation" "$T/coord.log" \
    || fail "no enrolment in the coordinator log"
say "ok"
