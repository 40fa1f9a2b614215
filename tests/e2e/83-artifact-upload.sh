#!/usr/bin/env bash
#   83-artifact-upload - a publisher's bundle into the coordinator's
#   artifact repository (weftctl artifact add): sent in parts, checked
#   record by record against the tenant's release root, taken in only
#   whole; kept across a restart; listed, shown and removed per tenant.
#   Refusals: no root yet, another tenant's admin, an operator, a
#   damaged or cut bundle, another tenant's publisher; each leaves the
#   repository as it was and is audited.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
cd "$T"

say "a publisher's repository with plc 1.0 and 2.0, bundled"
make_keys r1 r2 r3 t1 t2 s ts
head -c 1500000 /dev/urandom > v1.bin
cp v1.bin v2.bin
printf 'PATCHED' | dd of=v2.bin bs=1 seek=700000 conv=notrunc 2>/dev/null
art build --repo repo --name plc --version 1.0 v1.bin > /dev/null || fail "build 1"
art build --repo repo --name plc --version 2.0 v2.bin > /dev/null || fail "build 2"
new_root repo r1 r2 r3
art sign --key r1.key repo/root.1 && art sign --key r2.key repo/root.1 || fail "sign root"
publish repo plc=1.0 plc=2.0
art bundle --repo repo --out site.wbd > /dev/null || fail "bundle"
size=$(stat -c %s site.wbd)
(( size > 1000000 )) || fail "the bundle is only $size bytes"
art root --repo grepo --tenant globex --expires 365d \
    --root-keys "$(pub r1),$(pub r2),$(pub r3)" --root-threshold 2 \
    --targets-keys "$(pub t1)" --snapshot-keys "$(pub s)" --timestamp-keys "$(pub ts)" \
    > /dev/null || fail "globex root"
art sign --key r1.key grepo/root.1 && art sign --key r3.key grepo/root.1 || fail "sign globex"

start_coord
import_tree acme acme/plant-1 globex
add_op olga --role admin --tenant acme
add_op gina --role admin --tenant globex
add_op vic --role viewer --path acme/plant-1
add_op otto --role operator --tenant acme

releases () { as_op "$1" --json artifact list "${@:2}" | jget 'releases.*.version' | tr '\n' ' '; }

say "refused: no root yet, another tenant's admin, an operator"
refused "tenant acme has no release root" as_op olga artifact add site.wbd
as_op olga release root set repo/root.1 > /dev/null || fail "set acme's root"
as_op gina release root set grepo/root.1 > /dev/null || fail "set globex's root"
refused "managed by an admin of its root (acme)" as_op gina artifact add --tenant acme site.wbd
refused "role operator may not call artifact.upload" as_op otto artifact add site.wbd

say "refused: a damaged bundle, a cut one, acme's bundle as globex's"
cp site.wbd bad.wbd
flip_byte bad.wbd $((size / 2))
refused "bundle refused at byte" as_op olga artifact add bad.wbd
head -c $((size - 100)) site.wbd > cut.wbd
refused "cut short" as_op olga artifact add cut.wbd
refused "another tenant" as_op gina artifact add site.wbd
[[ "$(releases olga)" == "" && "$(releases gina)" == "" ]] || fail "a refused upload left releases"

say "acme's admin uploads it: both releases, whole"
out=$(as_op olga artifact add site.wbd 2>&1) || fail "add: $out"
grep -q "added plc 1.0 to tenant acme" <<<"$out" && grep -q "added plc 2.0 to tenant acme" <<<"$out" \
    || fail "add said: $out"
[[ "$(releases vic)" == "1.0 2.0 " ]] || fail "vic lists: $(releases vic)"
shown=$(as_op vic --json artifact show plc 1.0) || fail "show: $shown"
[[ "$(jget size <<<"$shown")" == 1500000 && "$(jget tenant <<<"$shown")" == acme ]] \
    || fail "show plc 1.0: $shown"
as_op vic artifact show plc | grep -q "^plc  *2.0 " || fail "show plc: $(as_op vic artifact show plc)"

say "another tenant sees none of it"
[[ "$(releases gina --tenant acme)" == "" && "$(releases gina)" == "" ]] || fail "gina sees acme's"
refused "no release plc 1.0 in tenant acme" as_op gina artifact show --tenant acme plc 1.0
refused "managed by an admin of its root (acme)" \
    as_op gina artifact remove --tenant acme plc 1.0

say "kept across a restart of the coordinator"
stop_proc coord KILL
start_coord
[[ "$(releases olga)" == "1.0 2.0 " ]] || fail "after the restart: $(releases olga)"

say "removed by acme's admin"
as_op olga artifact remove plc 1.0 | grep -q "removed plc 1.0 from tenant acme" || fail "remove"
[[ "$(releases vic)" == "2.0 " ]] || fail "after remove: $(releases vic)"
refused "no release plc 1.0 in tenant acme" as_op olga artifact remove plc 1.0

say "audited: the refusals, one record per upload taken in, the remove"
audit () {
    ctl --json audit list --query "action=$1" | jget 'records.*.status' | sort | uniq -c \
        | tr -s ' ' | tr '\n' ' '
}
[[ "$(audit artifact.upload)" == " 1 CONFLICT  2 FORBIDDEN  4 OK " ]] \
    || fail "upload: $(audit artifact.upload)"
[[ "$(audit artifact.part)" == *" 3 BAD_REQUEST "* && "$(audit artifact.part)" == *" 1 OK "* ]] \
    || fail "part: $(audit artifact.part)"
[[ "$(audit artifact.remove)" == *" 1 OK "* ]] || fail "remove: $(audit artifact.remove)"
say "ok"
