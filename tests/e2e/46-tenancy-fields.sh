#!/usr/bin/env bash
#   46-tenancy-fields - fields with security meaning need the right their
#   effect needs: a token without a type enrols a gateway whatever the
#   device asks (a server needs a token of type server, which only an
#   admin of the tenant's root makes); a device's type (its attestation
#   profile) is changed only by an admin of its tenant's root; a move
#   needs write where the device is and where it goes; tenant and role
#   are no arguments at all.
source "$(dirname "$0")/lib.sh"

start_coord
import_tree acme acme/plant-1 acme/plant-2 acmex acmex/plant-1
add_op olga --role admin --tenant acme
add_op suzy --role admin --path acme/plant-1
add_op pete --role operator --path acme/plant-1
ctl operator grant pete viewer acme/plant-2 > /dev/null || fail "grant"

say "a token without a type enrols a gateway, whatever the device asks"
out=$(run_node s0 --token-file "$(token_file "$(as_op olga token create)")" --type server) \
    && fail "an untyped token enrolled a server"
echo "$out" | grep -q "a token without a type enrols a gateway, not a server" \
    || fail "wrong refusal: $out"
start_node g1 --token-file "$(token_file "$(as_op olga token create --path acme/plant-1)")"
wait_for 'is_online g1' 20 || fail "g1 did not come online"
[[ "$(ctl --json device show g1 | jget role)" == gateway ]] || fail "g1 is not a gateway"

say "a server token needs admin on the tenant's root"
out=$(as_op suzy token create --path acme/plant-1 --type server 2>&1) \
    && fail "a subtree admin made a server token"
echo "$out" | grep -q "a server serves its whole tenant: it needs admin on acme" \
    || fail "suzy: $out"
as_op suzy token create --path acme/plant-1 --type sensor > /dev/null \
    || fail "a subtree admin cannot make an ordinary typed token"
SERVER_TOKEN=$(as_op olga token create --path acme/plant-1 --type server) || fail "server token"
start_node s1 --token-file "$(token_file "$SERVER_TOKEN")" --type server
wait_for 'is_online s1' 20 || fail "s1 did not come online"
[[ "$(ctl --json device show s1 | jget role)" == server ]] || fail "s1 is not a server"

say "a device's type picks its profile: only its tenant's root admin changes it"
out=$(as_op pete device set g1 type=sensor 2>&1) && fail "an operator changed a type"
echo "$out" | grep -q "type picks the attestation profile of g1" || fail "pete: $out"
out=$(as_op suzy device set g1 type=sensor 2>&1) && fail "a subtree admin changed a type"
as_op pete device set g1 fw=2.0 > /dev/null || fail "pete cannot set fw"
as_op olga device set g1 type=sensor > /dev/null || fail "acme's admin cannot set the type"
[[ "$(ctl --json device show g1 | jget type)" == sensor ]] || fail "type not set"

say "a move needs write at the source and at the destination"
out=$(as_op pete device set g1 path=acme/plant-2 2>&1) && fail "pete moved g1 where he only reads"
echo "$out" | grep -q "g1 would leave the subtrees you may change" || fail "pete move: $out"
out=$(as_op pete batch move --query 'id=g1' acme/plant-2 2>&1) && fail "pete batch-moved g1"
out=$(as_op olga device set g1 path=acmex/plant-1 2>&1) && fail "a device left its tenant"
echo "$out" | grep -q "path acmex/plant-1 is outside the tenant of g1" || fail "acmex: $out"
[[ "$(ctl --json device show g1 | jget path)" == acme/plant-1 ]] || fail "g1 moved"
ctl operator grant pete operator acme/plant-2 > /dev/null || fail "grant write on plant 2"
as_op pete device set g1 path=acme/plant-2 > /dev/null || fail "pete cannot move with both"

say "tenant and role are no arguments: refused, never a filter or a change"
for field in tenant role; do
    out=$(as_op olga call device.set "{\"id\": \"g1\", \"$field\": \"acmex\"}" 2>&1) \
        && fail "device.set took $field"
    echo "$out" | grep -q "unknown argument $field for device.set" || fail "$field: $out"
done
[[ "$(ctl --json device show g1 | jget tenant)" == acme ]] || fail "g1 changed tenant"
say "ok"
