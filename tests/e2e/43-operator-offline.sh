#!/usr/bin/env bash
#   43-operator-offline - a site server cut off from the coordinator
#   (the coordinator is stopped) answers an operator on site, authorised
#   only by the operator's CA-signed credential checked offline: a
#   viewer granted the server's site (or granted it among other grants)
#   is served; an operator granted only another subtree or another
#   tenant, an expired credential, a revoked operator, a forged
#   credential and a credential presented with other keys are refused,
#   each with its reason.
source "$(dirname "$0")/lib.sh"

start_coord
cat > "$T/tree.json" <<'JSON'
{"version": 1, "nodes": [
  {"path": "acme", "level": "enterprise"},
  {"path": "acme/plant-1", "level": "site"},
  {"path": "acme/plant-2", "level": "site"},
  {"path": "globex", "level": "enterprise"}
]}
JSON
ctl hierarchy import "$T/tree.json" > /dev/null || fail "import"
OPS_PORT=$(free_port)
token=$(new_token_file --tenant acme --path acme/plant-2 --type server) || fail "token with a path"
start_node s1 --token-file "$token" --type server --ops-listen "tcp://127.0.0.1:$OPS_PORT"
wait_for 'is_online s1' 20 || fail "s1 did not come online"
show=$(ctl --json device show s1) || fail "device show s1"
[[ "$(echo "$show" | jget path)" == acme/plant-2 ]] || fail "s1 is not placed by its token: $show"
S1_KEY=$(echo "$show" | jget curve_key)
grep -q "operator port on tcp://127.0.0.1:$OPS_PORT (place acme/plant-2)" "$T/s1.log" \
    || fail "s1 does not serve operators for acme/plant-2"

#   op NAME: weftctl as operator NAME
op () { local name=$1; shift; WEFT_IDENTITY="$T/$name.op" "$CTL" --timeout 5 "$@"; }
add () {
    local name=$1; shift
    ctl operator add "$name" "$@" --out "$T/$name.op" > /dev/null || fail "add $name"
}
add vera --role viewer --path acme/plant-2
add ola --role admin --path acme/plant-1
add gus --role admin --tenant globex
add eve --role viewer --path acme/plant-2
add rex --role viewer --path acme/plant-2
add mia --role viewer --path acme/plant-1
add mal --role viewer --path acme/plant-1
add aud --role auditor --path acme/plant-2
ctl operator grant mia operator acme/plant-2 > /dev/null || fail "grant mia"

say "credentials list every grant"
for name in vera ola gus rex mia mal aud; do
    out=$(op "$name" operator credential) || fail "credential of $name: $out"
done
echo "$out"
out=$(op mia operator credential --ttl 1h) || fail "mia: $out"
echo "$out" | grep -q "grants: viewer@acme/plant-1 operator@acme/plant-2" \
    || fail "mia's credential does not list both grants: $out"
op eve operator credential --ttl 1s > /dev/null || fail "credential of eve"
eve_at=$(date +%s)                          #   her credential ends by eve_at + 1
cp "$T/ola.op" "$T/forger.op"
#   ola edits her grant from plant-1 to plant-2 in her credential
forged=$(keyfile_value "$T/ola.op" cert | sed 's/706c616e742d31/706c616e742d32/g')
[[ "$forged" != "$(keyfile_value "$T/ola.op" cert)" ]] || fail "the forgery did not apply"
sed -i "s/^cert=.*/cert=$forged/" "$T/forger.op"
#   mal presents vera's credential with his own keys
sed -i "s/^cert=.*/cert=$(keyfile_value "$T/vera.op" cert)/" "$T/mal.op"

say "a revoked operator is on the list the site server holds"
out=$(ctl operator revoke rex) || fail "revoke rex: $out"
echo "$out"
wait_for 'grep -q "revocation list version 1" "$T/s1.log"' 10 || fail "s1 did not get the list"
out=$(op rex operator credential 2>&1) && fail "a revoked operator got a credential"
echo "$out" | grep -q "refused the key" || fail "revoked rex at the coordinator: $out"

say "the site is cut off: the coordinator is stopped"
stop_proc coord TERM
NODE_AT=(--node "tcp://127.0.0.1:$OPS_PORT" --node-key "$S1_KEY")
while (( $(date +%s) <= eve_at + 1 )); do sleep 0.2; done

out=$(op vera node stats "${NODE_AT[@]}") || fail "vera refused offline: $out"
echo "$out" | head -n 3
[[ "$(echo "$out" | jget revocations)" == 1 ]] || fail "stats: $out"
out=$(op mia node stats "${NODE_AT[@]}") || fail "mia refused offline (second grant): $out"

#   refused NAME MESSAGE: node stats as NAME exits 1 naming MESSAGE
refused () {
    local name=$1 message=$2 out rc
    out=$(op "$name" node stats "${NODE_AT[@]}" 2>&1); rc=$?
    (( rc == 1 )) || fail "$name: expected exit 1, got $rc ($out)"
    echo "$name refused: $out"
    echo "$out" | grep -qF "$message" || fail "$name: expected '$message', got '$out'"
}
refused ola "ola holds no grant of viewer on acme/plant-2"
refused gus "gus holds no grant of viewer on acme/plant-2"
refused eve "credential of eve expired at"
refused rex "credential of rex is revoked"
refused forger "credential not signed by the deployment CA"
refused mal "the credential of vera is not for this connection's key"

say "a replayed request is refused"
WEFT_CTL_SAVE_REQUEST="$T/request.bin" op vera node stats "${NODE_AT[@]}" > /dev/null \
    || fail "vera again"
out=$(WEFT_CTL_SEND_REQUEST="$T/request.bin" op vera node stats "${NODE_AT[@]}" 2>&1) \
    && fail "a replay was served"
echo "$out" | grep -q "replayed request" || fail "replay: $out"
[[ "$(grep -c "oplocal: request from .* refused" "$T/s1.log")" -ge 7 ]] \
    || fail "the refusals are not logged by s1"

say "the refusals are kept at the site: an auditor reads them there, also after a restart"
stop_proc s1
start_node s1 --type server --ops-listen "tcp://127.0.0.1:$OPS_PORT"
wait_for 'op vera node stats "${NODE_AT[@]}"' 20 || fail "s1 did not come back"
out=$(op vera node audit "${NODE_AT[@]}" 2>&1) && fail "a viewer read the site's refusals"
echo "$out" | grep -q "vera holds no grant of auditor on acme/plant-2" || fail "vera: $out"
out=$(op aud node audit "${NODE_AT[@]}" --limit 50) || fail "node audit: $out"
echo "$out"
for row in "ola .*node.stats .*FORBIDDEN .*127.0.0.1 .*ola holds no grant of viewer" \
           "gus .*FORBIDDEN .*127.0.0.1" "eve .*EXPIRED .*127.0.0.1 .*credential of eve expired" \
           "rex .*DENIED .*127.0.0.1 .*credential of rex is revoked" \
           "DENIED .*127.0.0.1 .*credential not signed by the deployment CA" \
           "mal .*DENIED .*127.0.0.1 .*the credential of vera is not for this connection" \
           "vera .*node.stats .*DENIED .*127.0.0.1 .*replayed request" \
           "vera .*node.audit .*FORBIDDEN .*127.0.0.1"; do
    echo "$out" | grep -q "$row" || fail "not in the site's record: $row"
done
say "ok"
