#!/usr/bin/env bash
#   52-tpm-ima - runtime attestation end to end against a real swtpm. The
#   test plays the kernel's IMA: it writes an ascii measurement list
#   (ima-ng, sha256) and extends the same template hashes into swtpm's PCR
#   10 with tpm2_pcrextend; weft-node --ima-log sends the list with its
#   quote. (a) every file on the allowlist: passes; a new entry is sent
#   alone, from the number the coordinator has verified up to, and the
#   stored count grows; (b) a measured file off the allowlist: fails naming
#   the file and its entry number, quarantined; (c) that entry edited to
#   look like an allowed file (template hash recomputed, so only PCR 10
#   tells): fails, the list does not replay; (d) the true list with the
#   file allowed by a new allowlist passes again and the device leaves
#   quarantine; (e) a node without --ima-log fails, saying so.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tpm-lib.sh"
command -v tpm2_pcrextend > /dev/null || { echo "SKIP: tpm2-tools not installed"; exit 0; }
IMA="$T/ima.list"

say "measured boot (PCR 8) and IMA: boot_aggregate and three files into PCR 10"
measure 8:kernel-6.1
mkdir -p "$T/fs"
for f in init sh weft-node app evil; do echo "content of $f" > "$T/fs/$f"; done
ima_measure boot_aggregate
for f in init sh weft-node; do ima_measure "$T/fs/$f"; done
tpm2_pcrread -T "$TCTI" sha256:10 > "$T/pcr10.txt" 2>&1 || true

python3 - "$T/profile.json" <<'PY'
import hashlib, json, sys
pcr8 = hashlib.sha256(bytes(32) + hashlib.sha256(b"kernel-6.1").digest()).hexdigest()
json.dump({"pcrs": {"8": pcr8}, "ima": True, "interval_s": 3600}, open(sys.argv[1], "w"))
PY
start_coord
COORD_KEY=$(keyfile_value "$WEFT_IDENTITY" coord_curve)
ctl attest profile set gateway "$T/profile.json" --tenant acme || fail "attest profile set failed"
echo '{"pcrs": {"10": "'"$(printf '0%.0s' $(seq 64))"'"}, "ima": true}' > "$T/bad-profile.json"
out=$(ctl attest profile set gateway "$T/bad-profile.json" --tenant acme 2>&1) \
    && fail "a profile with both ima and a PCR 10 value was taken"
grep -q "PCR 10 is IMA's" <<< "$out" || fail "no reason for the PCR 10 profile: $out"
say "the allowlist: init, sh, weft-node, app (not evil)"
sha256sum "$T/fs/init" "$T/fs/sh" "$T/fs/weft-node" "$T/fs/app" > "$T/allowlist"
ctl attest allowlist set "$T/allowlist" --tenant acme | grep -q "4 digests" || fail "allowlist set failed"
"$NODE" --data-dir "$T/ek" --tpm "$TCTI" --write-ek "$T/a.ek" > "$T/ek.log" 2>&1 \
    || fail "--write-ek failed"
ctl device preregister gw-a --ek-pub "$T/a.ek" --tenant acme > /dev/null || fail "preregister failed"

NODE_ARGS=(--tpm "$TCTI" --coord-key "$COORD_KEY" --event-log "$LOG" --ima-log "$IMA")
say "(a) gw-a enrols; the whole list (4 entries from #0) passes"
start_node box-a "${NODE_ARGS[@]}"
wait_for 'ctl attest show gw-a' 30 \
    || fail "gw-a did not pass: $(ctl attest show gw-a 2>&1; tail -5 "$T/box-a.log")"
out=$(ctl attest show gw-a)
echo "$out"
grep -q "^reason: *boot state matches the profile, IMA list verified" <<< "$out" \
    || fail "reason does not say IMA was verified"
grep -q "^IMA: *4 entries sent from #0, 4 verified in all" <<< "$out" || fail "IMA counts wrong"

say "(a) one more allowed file: only the new entry travels, from #4"
stop_proc box-a
ima_measure "$T/fs/app"
start_node box-a "${NODE_ARGS[@]}"
wait_for 'ctl attest show gw-a | grep -q "^IMA: *1 entries sent from #4, 5 verified in all"' 30 \
    || fail "the second evidence was not incremental: $(ctl attest show gw-a 2>&1)"
ctl attest show gw-a > /dev/null || fail "gw-a did not pass with the new entry"
grep -q "challenge from the coordinator (IMA from entry #4)" "$T/box-a.log" \
    || fail "the node was not asked for entries from #4"
grep -q "attestation of gw-a passed (IMA: 1 entries sent from #4, 5 verified in all)" \
    "$T/coord.log" || fail "no incremental pass in the coordinator log"

say "(b) a measured file off the allowlist: fails naming it and its entry, quarantined"
stop_proc box-a
ima_measure "$T/fs/evil" /usr/local/bin/evil
start_node box-a "${NODE_ARGS[@]}"
wait_for '! ctl attest show gw-a && ctl attest show gw-a | grep -q "/usr/local/bin/evil"' 30 \
    || fail "attestation did not fail on the evil file: $(ctl attest show gw-a 2>&1)"
out=$(ctl attest show gw-a)
echo "$out"
grep -q "^reason: *IMA entry #5 (/usr/local/bin/evil) has sha256 .*not on the allowlist" <<< "$out" \
    || fail "reason does not name entry #5 and its path"
grep -q "^first mismatch: *PCR 10, IMA entry #5" <<< "$out" || fail "no IMA entry in the mismatch"
grep -q "^IMA: *1 entries sent from #5, 5 verified in all" <<< "$out" \
    || fail "the failed entry advanced the stored count"
grep -q "^quarantined: *yes" <<< "$out" || fail "gw-a not shown as quarantined"
grep -q "ALERT attestation of gw-a failed: IMA entry #5 (/usr/local/bin/evil)" "$T/coord.log" \
    || fail "no alert in the coordinator log"
ctl attest status | grep -q "^FAILED gw-a: IMA entry #5" || fail "status: $(ctl attest status)"
ctl twin set gw-a '{"mode": "fast"}' > /dev/null || fail "twin set failed"
sleep 3
[[ "$({ jget mode < "$T/box-a.applied.json"; } 2>/dev/null)" == fast ]] \
    && fail "a quarantined node got its desired twin"

say "(c) the list edited: entry #5 now claims an allowed file (template hash recomputed)"
stop_proc box-a
cp "$IMA" "$T/ima.true"
head -n 5 "$IMA" > "$T/ima.head" && mv "$T/ima.head" "$IMA"
python3 - "$IMA" "$T/fs/app" <<'PY'
import hashlib, struct, sys
digest = hashlib.sha256(open(sys.argv[2], "rb").read()).digest()
d_ng, n_ng = b"sha256:\0" + digest, b"/usr/local/bin/app\0"
template = hashlib.sha256(struct.pack("<I", len(d_ng)) + d_ng
                          + struct.pack("<I", len(n_ng)) + n_ng).hexdigest()
open(sys.argv[1], "a").write("10 %s ima-ng sha256:%s /usr/local/bin/app\n" % (template, digest.hex()))
PY
ctl attest clear gw-a > /dev/null || fail "attest clear failed"
start_node box-a "${NODE_ARGS[@]}"
wait_for 'ctl attest show gw-a | grep -q "do not replay"' 30 \
    || fail "the edited list was not refused: $(ctl attest show gw-a 2>&1)"
out=$(ctl attest show gw-a)
echo "$out"
grep -q "^reason: *PCR 10: IMA entries #5..#5 do not replay to the quoted value (first unverified entry #5 /usr/local/bin/app)" <<< "$out" \
    || fail "reason does not name the edited entry"
grep -q "^quarantined: *yes" <<< "$out" || fail "gw-a not quarantined after the edited list"

say "(d) the true list again, and the operator allows the file: passes, leaves quarantine"
stop_proc box-a
cp "$T/ima.true" "$IMA"
sha256sum "$T/fs/evil" >> "$T/allowlist"
ctl attest allowlist set "$T/allowlist" --tenant acme | grep -q "5 digests" || fail "allowlist set failed"
start_node box-a "${NODE_ARGS[@]}"
wait_for 'ctl attest show gw-a' 30 || fail "gw-a did not pass again: $(ctl attest show gw-a 2>&1)"
ctl attest show gw-a | grep -q "^IMA: *1 entries sent from #5, 6 verified in all" \
    || fail "IMA counts after the allowlist change: $(ctl attest show gw-a)"
wait_for '[[ "$(jget mode < "$T/box-a.applied.json")" == fast ]]' 20 \
    || fail "gw-a did not get its twin after passing again"

say "(e) without --ima-log the node sends no list: fails, saying so"
stop_proc box-a
ctl attest clear gw-a > /dev/null || fail "attest clear failed"
start_node box-a --tpm "$TCTI" --coord-key "$COORD_KEY" --event-log "$LOG"
wait_for 'ctl attest show gw-a | grep -q "IMA list missing"' 30 \
    || fail "a node without --ima-log was not refused: $(ctl attest show gw-a 2>&1)"
ctl attest show gw-a && fail "attest show passes without the IMA list"
say "ok"
