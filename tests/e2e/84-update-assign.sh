#!/usr/bin/env bash
#   84-update-assign - weftctl update assign: the coordinator signs an
#   assignment of a release of the tenant's repository to each device
#   named (by id or query) whose type fits, and sends each an
#   UPDATE_OFFER by custody. Refusals: an unknown release, a device type
#   that does not fit, an operator of another tenant (neither its devices
#   nor its release), a viewer, devices of two tenants at once; each is
#   audited and sends nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
cd "$T"

say "acme's publisher: plc 1.0 for gateways, bundled"
plc_release 300000

plc_coord
add_op vic --role viewer --tenant acme

say "devices: two gateways and a sensor of acme, a gateway of globex"
start_node g1 --token-file "$(new_token_file --tenant acme --type gateway)"
start_node g2 --token-file "$(new_token_file --tenant acme --type gateway)"
start_node s1 --token-file "$(new_token_file --tenant acme --type gateway)"
start_node x1 --token-file "$(new_token_file --tenant globex --type gateway)"
wait_for 'is_online g1 && is_online g2 && is_online s1 && is_online x1' 30 \
    || fail "the devices did not come online"
as_op olga device set s1 type=sensor > /dev/null || fail "s1 becomes a sensor"
offers () { ctl --json stats | jget update_offers; }

say "refused: unknown release, a sensor, another tenant's operator, a viewer, two tenants"
refused "no release plc 9.9 in tenant acme" as_op otto update assign g1 plc 9.9
refused "device s1 is of type sensor; plc 1.0 is for gateway" as_op otto update assign s1 plc 1.0
refused "unknown device g1" as_op gus update assign g1 plc 1.0
refused "no release plc 1.0 in tenant globex" as_op gus update assign x1 plc 1.0
refused "the query matches no device you may change" \
    as_op gus update assign --query tenant=acme plc 1.0
refused "role viewer may not call update.assign" as_op vic update assign g1 plc 1.0
refused "devices of tenants" ctl update assign --query type=gateway plc 1.0
[[ "$(offers)" == 0 ]] || fail "a refused assignment sent offers: $(offers)"

say "acme's operator assigns plc 1.0: to g1 by id, then to acme's gateways by query"
out=$(as_op otto update assign g1 plc 1.0) || fail "assign g1: $out"
[[ "$out" == "plc 1.0 of tenant acme offered to 1 devices"*": g1" ]] || fail "assign said: $out"
[[ "$(offers)" == 1 ]] || fail "offers sent: $(offers)"
out=$(as_op otto --json update assign --query tenant=acme --ttl 2d plc 1.0) || fail "$out"
[[ "$(jget 'assigned.*' <<<"$out" | sort | tr '\n' ' ')" == "g1 g2 " ]] || fail "assigned: $out"
[[ "$(jget 'skipped.*.id' <<<"$out")" == s1 ]] || fail "skipped: $out"
expires=$(jget expires_ms <<<"$out")
now_ms=$(( $(date +%s) * 1000 ))
(( expires > now_ms + 47 * 3600000 && expires < now_ms + 49 * 3600000 )) \
    || fail "a 2d assignment expires at $expires (now $now_ms)"
[[ "$(offers)" == 3 ]] || fail "offers sent: $(offers)"

say "each offer reaches its device, which answers it (custody ends)"
held () { ctl --json stats | jget custody_held; }
answered () { local s; s=$(ctl --json stats); echo $(( $(jget custody_acked <<<"$s") + $(jget custody_refused <<<"$s") )); }
wait_for '[[ "$(held)" == 0 && "$(answered)" == 3 ]]' 20 \
    || fail "offers not answered: held $(held), answered $(answered)"

say "a device not seen since the coordinator restarted gets its offer when it links"
stop_proc g2
stop_proc coord
start_coord
as_op otto update assign g2 plc 1.0 > /dev/null || fail "assign g2 while it is away"
[[ "$(held)" == 1 ]] || fail "the offer to g2 is not held: $(ctl --json stats)"
start_node g2
wait_for '[[ "$(held)" == 0 && "$(answered)" == 1 ]]' 20 \
    || fail "g2's offer not answered: held $(held), answered $(answered)"

say "update status: the assignment, to readers of the tenant only"
shown=$(as_op vic --json update status g2) || fail "status g2: $shown"
[[ "$(jget 'devices.0.assigned.version' <<<"$shown")" == 1.0 ]] || fail "status g2: $shown"
as_op vic update status --query type=gateway | grep -q "^g1  *plc 1.0 " \
    || fail "status table: $(as_op vic update status --query type=gateway)"
refused "unknown device g1" as_op gus update status g1
[[ "$(as_op gus --json update status | jget 'devices.*.id')" == x1 ]] || fail "gus sees others"

say "audited: each assignment and each refusal"
audit=$(ctl --json audit list --query 'action=update.assign' | jget 'records.*.status' \
        | sort | uniq -c | tr -s ' ' | tr '\n' ' ')
[[ "$audit" == " 2 BAD_REQUEST  1 FORBIDDEN  4 NOT_FOUND  3 OK " ]] \
    || fail "audit of update.assign: $audit"
say "ok"
