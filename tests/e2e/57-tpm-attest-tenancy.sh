#!/usr/bin/env bash
#   57-tpm-attest-tenancy - attestation policy is per tenant: two TPM
#   gateways of the same type and the same measured boot, one in acme,
#   one in acmex (a tenant whose name acme prefixes). Each tenant's root
#   admin sets its own profile for the type (acmex's expects another
#   PCR 9): acme's gateway passes against acme's profile while acmex's
#   fails and is quarantined, and neither setting touched the other
#   tenant. A subtree admin may not set its tenant's profile, no admin
#   may set another tenant's, and an operator may not change a device's
#   type (which picks its profile). Real swtpm processes and daemons.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tpm-lib.sh"

#   B: a second swtpm, measured as A
new_tpm B
measure_b () {
    "$NODE" --data-dir "$T/measure-b" --tpm "$B_TCTI" --event-log "$T/boot-b.log" \
        --measure "$1" >> "$T/measure.log" 2>&1 || fail "--measure $1 on B failed"
}

say "the same measured boot on both TPMs"
BOOT=(8:kernel-6.1 9:initrd-6.1)
for m in "${BOOT[@]}"; do measure "$m"; measure_b "$m"; done
#   profile FILE PCR9-TEXT: PCRs 8 and 9 as that boot leaves them, with
#   PCR 9 from the text given
profile () {
    python3 - "$1" "$2" <<'PY'
import hashlib, json, sys
pcrs = {}
for pcr, data in [(8, b"kernel-6.1"), (9, sys.argv[2].encode())]:
    pcrs[pcr] = hashlib.sha256(bytes(32) + hashlib.sha256(data).digest()).digest()
json.dump({"pcrs": {str(k): v.hex() for k, v in pcrs.items()}, "interval_s": 2},
          open(sys.argv[1], "w"))
PY
}
profile "$T/good.json" initrd-6.1
profile "$T/bad.json" initrd-other

start_coord
COORD_KEY=$(keyfile_value "$WEFT_IDENTITY" coord_curve)
import_tree acme acme/plant-1 acmex
add_op olga --role admin --tenant acme
add_op xena --role admin --tenant acmex
add_op suzy --role admin --path acme/plant-1
add_op pete --role operator --tenant acme

say "each tenant's root admin sets its own profile for gateways"
as_op olga attest profile set gateway "$T/good.json" > /dev/null || fail "acme's profile"
as_op xena attest profile set gateway "$T/bad.json" > /dev/null || fail "acmex's profile"

say "a gateway in each tenant, same boot: each judged by its own tenant's profile"
"$NODE" --data-dir "$T/ek-a" --tpm "$TCTI" --write-ek "$T/a.ek" > "$T/ek.log" 2>&1 || fail "EK A"
"$NODE" --data-dir "$T/ek-b" --tpm "$B_TCTI" --write-ek "$T/b.ek" >> "$T/ek.log" 2>&1 \
    || fail "EK B"
as_op olga device preregister gw-a --ek-pub "$T/a.ek" --path acme/plant-1 > /dev/null \
    || fail "pre-register gw-a"
as_op xena device preregister gw-b --ek-pub "$T/b.ek" > /dev/null || fail "pre-register gw-b"
start_node box-a --tpm "$TCTI" --coord-key "$COORD_KEY" --event-log "$LOG"
start_node box-b --tpm "$B_TCTI" --coord-key "$COORD_KEY" --event-log "$T/boot-b.log"
wait_for 'ctl attest show gw-b | grep -q "^verdict: *FAILED"' 30 \
    || fail "gw-b was not judged: $(ctl attest show gw-b 2>&1)"
wait_for 'ctl attest show gw-a > /dev/null' 30 \
    || fail "gw-a did not pass against acme's profile: $(ctl attest show gw-a 2>&1)"
ctl attest show gw-b | grep -q "^reason: *PCR 9 is" || fail "gw-b: $(ctl attest show gw-b)"
[[ "$(as_op olga attest status)" == "1 verdicts: 1 passed, 0 failed" ]] \
    || fail "acme's status: $(as_op olga attest status)"
as_op xena attest status | grep -q "^FAILED gw-b" || fail "acmex's status: $(as_op xena attest status)"
as_op xena attest status | grep -q gw-a && fail "acmex's status shows acme's device"
grep -q "publish: profile/acmex/gateway version 1 published" "$T/coord.log" \
    || fail "acmex's profile not published under its tenant"
grep -q "publish: profile/acme/gateway version 1 published" "$T/coord.log" \
    || fail "acme's profile not published under its tenant"

say "a subtree admin may not set its tenant's profile, nor one tenant another's"
out=$(as_op suzy attest profile set gateway "$T/bad.json" 2>&1) \
    && fail "a subtree admin set the tenant's profile"
echo "$out" | grep -q "attestation policy is set per tenant, by an admin of its root (acme)" \
    || fail "suzy: $out"
out=$(as_op xena attest profile set gateway "$T/bad.json" --tenant acme 2>&1) \
    && fail "acmex's admin set acme's profile"
out=$(as_op olga attest allowlist set "$T/a.ek" --tenant acmex 2>&1) \
    && fail "acme's admin set acmex's allowlist"
out=$(as_op olga attest profile set gateway "$T/good.json" --tenant - 2>&1) \
    && fail "a tenant admin set the profile of the devices without a tenant"

say "an operator may not change a device's type, which picks its profile"
out=$(as_op pete device set gw-a type=unattested 2>&1) && fail "an operator changed gw-a's type"
echo "$out" | grep -q "type picks the attestation profile of gw-a" || fail "pete: $out"
out=$(as_op suzy device set gw-a type=unattested 2>&1) && fail "a subtree admin changed the type"
echo "$out" | grep -q "changing it needs admin on its tenant" || fail "suzy: $out"
as_op olga device set gw-a hw=rev-b > /dev/null || fail "olga cannot set hw"
[[ "$(ctl --json device show gw-a | jget type)" == gateway ]] || fail "gw-a's type changed"
say "ok"
