#!/usr/bin/env bash
#   48-tenancy-grants - removing an operator's last grant leaves it no
#   rights at all (never its original role over its whole tenant); a
#   grantless operator still belongs to its home: another tenant's admin
#   cannot see, grant or revoke it (the same answer as for a missing
#   operator), its own tenant's admin can; and the role map holds: a
#   security officer manages operators below it, never an admin or a
#   peer, and gives only roles the map lets it give.
source "$(dirname "$0")/lib.sh"

start_coord
import_tree acme acme/plant-1 acme/plant-2 globex
start_node a1 --token-file "$(new_token_file --tenant acme --path acme/plant-1)"
wait_for 'is_online a1' 20 || fail "a1 did not come online"

add_op olga --role admin --tenant acme
add_op sid --role security-officer --tenant acme
add_op sam --role security-officer --tenant acme
add_op pete --role operator --path acme/plant-2
add_op gina --role admin --tenant globex

say "pete, operator of plant 2, has his role there only"
as_op pete twin set a1 '{"x": 1}' > /dev/null 2>&1 && fail "pete changed a1 outside plant 2"
[[ "$(as_op pete device count)" == 0 ]] || fail "pete counts devices outside plant 2"

say "his last grant removed, pete has no rights at all"
out=$(as_op olga operator grant pete operator acme/plant-2 --remove) || fail "remove: $out"
out=$(as_op pete device count 2>&1) && fail "a grantless operator counted devices: $out"
echo "$out" | grep -q "role (none) may not call device.count" || fail "device count: $out"
out=$(as_op pete twin set a1 '{"x": 2}' 2>&1) && fail "a grantless operator patched a1: $out"
out=$(as_op pete operator credential 2>&1) && fail "a grantless operator got a credential: $out"
[[ "$(ctl --json twin get a1 | jget desired_version)" == 0 ]] || fail "a1's twin changed"

say "another tenant's admin cannot see, grant or revoke him: as for nobody"
for args in "grant pete viewer globex" "revoke pete"; do
    # shellcheck disable=SC2086
    hidden=$(as_op gina operator $args 2>&1) && fail "gina: operator $args worked"
    # shellcheck disable=SC2086
    missing=$(as_op gina operator ${args//pete/nobody} 2>&1)
    [[ "${hidden//pete/X}" == "${missing//nobody/X}" ]] \
        || fail "operator $args: '$hidden' differs from '$missing'"
    echo "$hidden" | grep -q "unknown operator pete" || fail "gina operator $args: $hidden"
done
out=$(as_op gina operator grant pete viewer acme 2>&1) && fail "gina granted on acme: $out"
audit=$(ctl --json audit list --query 'target=pete and status=OK' | jget 'records.*.actor')
[[ "$audit" != *gina* ]] || fail "gina changed pete: $audit"

say "his own tenant's admin still manages him"
out=$(as_op olga operator grant pete viewer acme/plant-1) || fail "olga re-grants pete: $out"
[[ "$(as_op pete --json device list | jget 'devices.*.id')" == a1 ]] || fail "pete's new grant"

say "the role map: a security officer may not revoke or change an admin, nor a peer"
out=$(as_op sid operator revoke olga 2>&1) && fail "a security officer revoked an admin"
echo "$out" | grep -q "your roles may not manage olga: it holds admin on acme" \
    || fail "sid revoke olga: $out"
out=$(as_op sid operator grant olga viewer acme/plant-1 2>&1) && fail "sid changed olga's grants"
out=$(as_op sid operator revoke sam 2>&1) && fail "a security officer revoked a peer"
out=$(as_op sid operator grant pete operator acme/plant-2 2>&1) && fail "sid gave operator"
echo "$out" | grep -q "may not grant operator" || fail "sid grant operator: $out"
out=$(as_op sid operator grant pete viewer acme/plant-2) || fail "sid gives viewer: $out"
out=$(as_op sid operator revoke pete) || fail "sid revokes an operator below him: $out"
[[ "$(ctl --json audit list --query 'target=olga and action=operator.revoke' \
      | jget 'records.*.status')" == FORBIDDEN ]] || fail "the refusal is not audited"
as_op olga device count > /dev/null || fail "olga lost her rights"
out=$(as_op olga operator revoke sid) || fail "an admin revokes a security officer: $out"
say "ok"
