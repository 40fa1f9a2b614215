#!/usr/bin/env bash
#   50-tpm-onboard - zero-touch TPM onboarding against real swtpm
#   processes: a pre-registered EK enrols with no token and is placed
#   from its pre-registration; an EK certificate from the configured
#   vendor CA is accepted; an unregistered EK, an EK certificate from an
#   unknown CA and a takeover of an enrolled id are refused; device list
#   tells TPM-backed devices from software ones.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/swtpm-lib.sh"

say "four swtpm processes: A, B and D with EK certificates (own CAs), C without"
new_tpm A --ek-cert
new_tpm B --ek-cert
new_tpm C
new_tpm D --ek-cert
cat "$B_DIR/ca/swtpm-localca-rootca-cert.pem" "$B_DIR/ca/issuercert.pem" > "$T/vendor-ca.pem"

say "coordinator trusting B's vendor CA"
start_coord --ek-ca "$T/vendor-ca.pem"
COORD_KEY=$(keyfile_value "$WEFT_IDENTITY" coord_curve)
[[ ${#COORD_KEY} == 64 ]] || fail "no coordinator key in $WEFT_IDENTITY"

cat > "$T/tree.json" <<'JSON'
{"version": 1, "nodes": [
  {"path": "acme", "level": "enterprise"},
  {"path": "acme/plant-1", "level": "site"}
]}
JSON
ctl hierarchy import "$T/tree.json" > /dev/null || fail "import"

say "pre-register A's EK as gw-a in acme/plant-1 with a tag"
"$NODE" --data-dir "$T/ek-a" --tpm "$A_TCTI" --write-ek "$T/a.ek" > "$T/ek-a.log" 2>&1 \
    || fail "weft-node --write-ek failed: $(cat "$T/ek-a.log")"
[[ -s "$T/a.ek" ]] || fail "no EK written"
#   docs/protocol.md section 7: a TPM2B_PUBLIC, its 2-byte size then exactly that
ek_size=$(( $(od -An -tu1 -N2 "$T/a.ek" | awk '{ print $1 * 256 + $2 }') + 2 ))
[[ "$(stat -c %s "$T/a.ek")" == "$ek_size" ]] \
    || fail "the EK file is not one TPM2B_PUBLIC: $(stat -c %s "$T/a.ek") bytes, size says $ek_size"
ctl device preregister gw-a --ek-pub "$T/a.ek" --tenant acme --path acme/plant-1 \
    tag.line=3 || fail "device preregister failed"
printf 'this is no TPM2B_PUBLIC' > "$T/junk.ek"
out=$(ctl device preregister gw-z --ek-pub "$T/junk.ek" 2>&1) \
    && fail "a file that is no EK was pre-registered"
echo "$out" | grep -q "EK public key malformed" || fail "wrong refusal: $out"

say "A enrols with no token and no human step, as its pre-registration says"
start_node box-a --tpm "$A_TCTI" --coord-key "$COORD_KEY"
wait_for 'is_online gw-a' 30 || fail "gw-a did not come online: $(tail -5 "$T/box-a.log")"
show=$(ctl device show gw-a) || fail "device show gw-a failed"
echo "$show"
echo "$show" | grep -q "^assurance: *tpm" || fail "gw-a is not shown as TPM-backed"
echo "$show" | grep -q "^tenant: *acme" || fail "gw-a is not in tenant acme"
echo "$show" | grep -q "^path: *acme/plant-1" || fail "gw-a is not placed at acme/plant-1"
echo "$show" | grep -q "^TPM AK name: *000b" || fail "no AK bound to gw-a"
[[ "$(ctl --json device show gw-a | jget tags.line)" == 3 ]] || fail "tag line=3 missing"
grep -q "enrolled as gw-a" "$T/box-a.log" || fail "node does not say it enrolled as gw-a"

say "an unregistered EK is refused"
out=$(run_node box-c --tpm "$C_TCTI" --coord-key "$COORD_KEY") \
    && fail "an unregistered EK enrolled"
echo "$out" | grep -q "EK is not pre-registered" || fail "wrong refusal: $out"

say "an EK certificate from an unknown CA is refused"
out=$(run_node box-d --tpm "$D_TCTI" --coord-key "$COORD_KEY") \
    && fail "an EK certified by an unknown CA enrolled"
echo "$out" | grep -q "EK certificate refused: EK certificate's issuer is unknown (not in the EK CA bundle)" \
    || fail "wrong refusal: $out"

say "B's EK certificate chains to the vendor CA: accepted under its own name"
start_node gw-b --tpm "$B_TCTI" --coord-key "$COORD_KEY"
wait_for 'is_online gw-b' 30 || fail "gw-b did not come online: $(tail -5 "$T/gw-b.log")"
[[ "$(ctl --json device show gw-b | jget ek_via)" == ek-cert ]] || fail "gw-b not accepted by EK cert"

say "a second enrolment claiming gw-b's id (same TPM, new keys) is refused"
stop_proc gw-b              #   swtpm serves one connection at a time
mv "$T/gw-b" "$T/gw-b.enrolled"
out=$(run_node gw-b --tpm "$B_TCTI" --coord-key "$COORD_KEY") \
    && fail "identity takeover of gw-b succeeded"
echo "$out" | grep -q "device id gw-b is not available" || fail "wrong refusal: $out"

say "a software node next to them is shown as lower assurance"
start_node soft --token-file "$(new_token_file --tenant acme)"
wait_for 'is_online soft' 20 || fail "soft did not come online"
table=$(ctl device list) || fail "device list failed"
echo "$table"
echo "$table" | head -n 1 | grep -q "ASSURANCE" || fail "no ASSURANCE column"
echo "$table" | grep -E "^gw-a " | grep -q " tpm " || fail "gw-a not tpm in the list"
echo "$table" | grep -E "^soft " | grep -q " software " || fail "soft not software in the list"
(( $(counter enrol_refused) >= 3 )) || fail "enrol_refused is $(counter enrol_refused)"
say "ok"
