#!/usr/bin/env bash
#   82-release-root - a tenant's release root, from the publisher's keys
#   to the device: an admin of the tenant sets it (weftctl release root
#   set), a newer one only when the stored one vouches for it; every
#   device of the tenant pins it at enrolment in <data dir>/release-root,
#   a device of another tenant gets its own, an enrolment never
#   replaces a pinned root, and weft-node --pin-release-root pins one by
#   hand. Refusals: another tenant's admin (set and show), a root of
#   another tenant, short of its threshold, unsigned, a rotation by new
#   keys only, an older root; each leaves the stored root as it was and
#   is audited.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"

say "a publisher's keys and roots: acme (root.1, then root.2 rotated), globex"
make_keys r1 r2 r3 n1 n2 n3 t1 t2 s ts
new_root "$T/repo" r1 r2 r3
cp "$T/repo/root.1" "$T/unsigned.1"
art sign --key "$T/r1.key" "$T/repo/root.1" || fail "sign r1"
cp "$T/repo/root.1" "$T/short.1"
art sign --key "$T/r2.key" "$T/repo/root.1" || fail "sign r2"
new_root "$T/repo" n1 n2 n3
cp "$T/repo/root.2" "$T/newkeys.2"
art sign --key "$T/n1.key" "$T/newkeys.2" && art sign --key "$T/n2.key" "$T/newkeys.2" \
    || fail "sign new keys"
cp "$T/newkeys.2" "$T/repo/root.2"
art sign --key "$T/r2.key" "$T/repo/root.2" && art sign --key "$T/r3.key" "$T/repo/root.2" \
    || fail "old keys sign root.2"
art root --repo "$T/grepo" --tenant globex --expires 365d \
    --root-keys "$(pub r1),$(pub r2),$(pub r3)" --root-threshold 2 \
    --targets-keys "$(pub t1)" --snapshot-keys "$(pub s)" --timestamp-keys "$(pub ts)" \
    > /dev/null || fail "globex root"
art sign --key "$T/r1.key" "$T/grepo/root.1" && art sign --key "$T/r3.key" "$T/grepo/root.1" \
    || fail "sign globex root"

start_coord
import_tree acme acme/plant-1 globex
add_op olga --role admin --tenant acme
add_op gina --role admin --tenant globex
add_op vic --role viewer --path acme/plant-1
add_op otto --role operator --tenant acme

say "a device enrolled before its tenant has a root gets none"
start_node a0 --token-file "$(new_token_file --tenant acme)"
wait_for 'is_online a0' 20 || fail "a0 did not come online"
[[ ! -e "$T/a0/release-root" ]] || fail "a0 pinned a root that does not exist"

say "refused: another tenant's admin, an operator, a root of globex, short, unsigned"
refused "set by an admin of its root (acme)" \
    as_op gina release root set --tenant acme "$T/repo/root.1"
refused "role operator may not call release.root.set" as_op otto release root set "$T/repo/root.1"
refused "the root is tenant globex's, not acme's" \
    as_op olga release root set "$T/grepo/root.1"
refused "root version 1 refused: not signed by a threshold" \
    as_op olga release root set "$T/short.1"
refused "root version 1 refused: not signed by a threshold" \
    as_op olga release root set "$T/unsigned.1"
head -c 300 /dev/urandom > "$T/noise"
refused "not a signed release root" as_op olga release root set "$T/noise"
refused "tenant acme has no release root" as_op vic release root show

say "acme's admin sets it; again changes nothing; a viewer of a site reads it"
out=$(as_op olga release root set "$T/repo/root.1") || fail "set root.1: $out"
[[ "$out" == *"version 1"*stored* ]] || fail "set root.1 said: $out"
out=$(as_op olga release root set "$T/repo/root.1") || fail "set root.1 again: $out"
[[ "$out" == *"unchanged"* ]] || fail "set root.1 again said: $out"
shown=$(as_op vic --json release root show) || fail "vic show: $shown"
[[ "$(jget version <<<"$shown")" == 1 && "$(jget tenant <<<"$shown")" == acme ]] \
    || fail "vic saw: $shown"
[[ "$(jget root <<<"$shown")" == "$(od -An -v -tx1 "$T/repo/root.1" | tr -d ' \n')" ]] \
    || fail "the root shown is not the bytes set"
as_op vic release root show | grep -q "^root  *2 of 3:" || fail "show: $(as_op vic release root show)"
refused "tenant acme has no release root" as_op gina release root show --tenant acme
out=$(as_op gina release root set "$T/grepo/root.1") || fail "gina sets globex's: $out"

say "enrolment pins the tenant's root: acme's for a1, globex's for b1"
start_node a1 --token-file "$(new_token_file --tenant acme)"
start_node b1 --token-file "$(new_token_file --tenant globex)"
wait_for 'is_online a1 && is_online b1' 20 || fail "a1, b1 did not come online"
cmp -s "$T/a1/release-root" "$T/repo/root.1" || fail "a1 did not pin acme's root.1"
cmp -s "$T/b1/release-root" "$T/grepo/root.1" || fail "b1 did not pin globex's root"
[[ "$(stat -c %a "$T/a1/release-root")" == 644 ]] || fail "release-root is not mode 644"

say "rotation: only the next version, vouched for by the stored root"
refused "does not follow from the stored version 1" \
    as_op olga release root set "$T/newkeys.2"
[[ "$(as_op olga --json release root show | jget version)" == 1 ]] || fail "a refusal changed it"
out=$(as_op olga release root set "$T/repo/root.2") || fail "set root.2: $out"
refused "root version 1 is not newer than the stored version 2" \
    as_op olga release root set "$T/repo/root.1"
shown=$(as_op olga --json release root show)
[[ "$(jget version <<<"$shown")" == 2 && "$(jget 'versions.*' <<<"$shown" | tr '\n' ' ')" == "1 2 " ]] \
    || fail "after the rotation: $shown"

say "an enrolment never replaces a pinned root"
mkdir -m 700 "$T/a2"
cp "$T/repo/root.1" "$T/a2/release-root"
start_node a2 --token-file "$(new_token_file --tenant acme)"
wait_for 'is_online a2' 20 || fail "a2 did not come online"
cmp -s "$T/a2/release-root" "$T/repo/root.1" || fail "a2's pinned root was replaced"
start_node a3 --token-file "$(new_token_file --tenant acme)"
wait_for 'is_online a3' 20 || fail "a3 did not come online"
cmp -s "$T/a3/release-root" "$T/repo/root.2" || fail "a3 did not pin root.2"

say "weft-node --pin-release-root: a0 pins it by hand; another tenant's is refused"
stop_proc a0
"$NODE" --data-dir "$T/a0" --pin-release-root "$T/grepo/root.1" > "$T/pin.out" 2>&1 \
    && fail "a0 pinned globex's root"
grep -q "the root is tenant globex's, this device is acme's" "$T/pin.out" \
    || fail "pin globex: $(cat "$T/pin.out")"
[[ ! -e "$T/a0/release-root" ]] || fail "a refused pin wrote the file"
"$NODE" --data-dir "$T/a0" --pin-release-root "$T/short.1" > "$T/pin.out" 2>&1 \
    && fail "a0 pinned a root short of its threshold"
"$NODE" --data-dir "$T/a0" --pin-release-root "$T/repo/root.2" > "$T/pin.out" 2>&1 \
    || fail "pin root.2: $(cat "$T/pin.out")"
cmp -s "$T/a0/release-root" "$T/repo/root.2" || fail "a0 did not pin root.2"
"$NODE" --data-dir "$T/fresh" --name fresh --pin-release-root "$T/repo/root.2" \
    > "$T/pin.out" 2>&1 && fail "a node that never enrolled pinned a root"
grep -q "not enrolled yet" "$T/pin.out" || fail "pin unenrolled: $(cat "$T/pin.out")"

say "audited: each set and each refusal"
audit=$(ctl --json audit list --query 'action=release.root.set' | jget 'records.*.status' \
        | sort | uniq -c | tr -s ' ' | tr '\n' ' ')
[[ "$audit" == *" 6 BAD_REQUEST "* && "$audit" == *" 2 FORBIDDEN "* && "$audit" == *" 4 OK "* ]] \
    || fail "audit of release.root.set: $audit"
say "ok"
