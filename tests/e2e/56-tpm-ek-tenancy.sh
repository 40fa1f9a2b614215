#!/usr/bin/env bash
#   56-tpm-ek-tenancy - a TPM pre-registered by one tenant cannot be
#   taken over from another: re-pre-registering its public EK is refused
#   from every tenant (also once it enrolled, and for an EK enrolled by
#   its certificate), a token of another tenant cannot enrol the id it
#   reserves, and every refusal caused by an id held elsewhere says the
#   same neutral text whoever holds it (same tenant or not, reserved or
#   enrolled), so ids tell no tenant what another has. Real swtpm
#   processes and daemons.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/swtpm-lib.sh"
write_ek () {
    "$NODE" --data-dir "$T/ek-$1" --tpm "$2" --write-ek "$T/$1.ek" > "$T/ek-$1.log" 2>&1 \
        || fail "weft-node --write-ek failed: $(cat "$T/ek-$1.log")"
}

say "two swtpm processes: A (pre-registered by acme), B (EK certificate)"
new_tpm A
new_tpm B --ek-cert
cat "$B_DIR/ca/swtpm-localca-rootca-cert.pem" "$B_DIR/ca/issuercert.pem" > "$T/vendor-ca.pem"
write_ek a "$A_TCTI"
write_ek b "$B_TCTI"
start_coord --ek-ca "$T/vendor-ca.pem"
COORD_KEY=$(keyfile_value "$WEFT_IDENTITY" coord_curve)
import_tree acme acme/plant-1 globex
ctl operator add olga --role admin --tenant acme --out "$T/olga.op" > /dev/null || fail "olga"
ctl operator add gina --role admin --tenant globex --out "$T/gina.op" > /dev/null || fail "gina"
OLGA="env WEFT_IDENTITY=$T/olga.op $CTL --timeout 5"
GINA="env WEFT_IDENTITY=$T/gina.op $CTL --timeout 5"
start_node soft --token-file "$(new_token_file --tenant acme)"
wait_for 'is_online soft' 20 || fail "soft did not come online"

say "acme pre-registers A's EK as gw-a"
$OLGA device preregister gw-a --ek-pub "$T/a.ek" --path acme/plant-1 > /dev/null \
    || fail "acme's pre-registration"

say "globex re-pre-registers A's public EK under its own id: refused"
out=$($GINA device preregister gw-evil --ek-pub "$T/a.ek" 2>&1) \
    && fail "globex re-pre-registered acme's EK: $out"
echo "$out" | grep -q "this EK is already registered" || fail "wrong refusal: $out"
out=$($OLGA device preregister gw-a2 --ek-pub "$T/a.ek" 2>&1) \
    && fail "an EK was registered twice: $out"

say "pre-registration is checked in the caller's scope, place in the hierarchy"
out=$($GINA device preregister gw-x --ek-pub "$T/b.ek" --tenant acme 2>&1) \
    && fail "globex pre-registered into acme"
echo "$out" | grep -q "tenant acme is outside your scope" || fail "tenant acme: $out"
out=$($GINA device preregister gw-x --ek-pub "$T/b.ek" --path acme/plant-1 2>&1) \
    && fail "globex pre-registered into acme's plant"
out=$($GINA device preregister gw-x --ek-pub "$T/b.ek" --tenant globex --path acme/plant-1 \
      2>&1) && fail "a path outside the tenant was taken"
out=$($GINA device preregister gw-x --ek-pub "$T/b.ek" --path globex/nowhere 2>&1) \
    && fail "a path missing from the hierarchy was taken"
echo "$out" | grep -q "unknown hierarchy node globex/nowhere" || fail "nowhere: $out"

say "an id held elsewhere gets one neutral refusal, whoever holds it"
#   neutral WHO ID: pre-registering ID with B's EK is refused as taken
neutral () {
    local out
    out=$($1 device preregister "$2" --ek-pub "$T/b.ek" 2>&1) \
        && fail "$2 was pre-registered again by $1"
    [[ "$out" == "weftctl: device id $2 is not available" ]] || fail "$1 $2: '$out'"
}
neutral "$GINA" gw-a            #   reserved in another tenant
neutral "$OLGA" gw-a            #   reserved in one's own
neutral "$GINA" soft            #   enrolled in another tenant
neutral "$OLGA" soft            #   enrolled in one's own

say "a token of globex cannot enrol the id acme reserved for A"
out=$(run_node gw-a --token-file "$(token_file "$($GINA token create)")") \
    && fail "globex's token enrolled gw-a"
echo "$out" | grep -q "device id gw-a is not available" || fail "wrong refusal: $out"
[[ "$(ctl --json device list | jget 'devices.*.id' | sort | tr '\n' ' ')" == "soft " ]] \
    || fail "a device appeared"

say "A onboards where acme placed it"
start_node box-a --tpm "$A_TCTI" --coord-key "$COORD_KEY"
wait_for 'is_online gw-a' 30 || fail "gw-a did not come online: $(tail -5 "$T/box-a.log")"
show=$(ctl --json device show gw-a)
[[ "$(echo "$show" | jget tenant)" == acme && "$(echo "$show" | jget path)" == acme/plant-1 ]] \
    || fail "gw-a is not acme's: $show"
neutral "$GINA" gw-a            #   enrolled by its TPM
out=$($GINA device preregister gw-evil --ek-pub "$T/a.ek" 2>&1) \
    && fail "globex pre-registered an enrolled EK"

say "an EK enrolled by its certificate cannot be pre-registered afterwards"
start_node gw-b --tpm "$B_TCTI" --coord-key "$COORD_KEY"
wait_for 'is_online gw-b' 30 || fail "gw-b did not come online: $(tail -5 "$T/gw-b.log")"
out=$($GINA device preregister gw-evil --ek-pub "$T/b.ek" 2>&1) \
    && fail "globex pre-registered B's enrolled EK"
echo "$out" | grep -q "this EK is already registered" || fail "wrong refusal: $out"
say "ok"
