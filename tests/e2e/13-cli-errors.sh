#!/usr/bin/env bash
#   13-cli-errors - what users see when things go wrong: clear messages
#   and the documented exit codes, --help everywhere, and a CA key that
#   others can read stops the coordinator from starting.
source "$(dirname "$0")/lib.sh"

say "--help on every program"
for bin in "$COORD" "$NODE" "$CTL"; do
    out=$("$bin" --help 2>&1) || fail "$(basename "$bin") --help exited non-zero"
    echo "$out" | grep -q -- "--help" || fail "$(basename "$bin") --help lists no options"
done
"$CTL" --help | grep -q "twin set" || fail "weftctl --help does not list commands"
"$COORD" --help | grep -q -- "--data-dir" || fail "weft-coord --help lacks --data-dir"
"$NODE" --help | grep -q -- "--token-file" || fail "weft-node --help lacks --token-file"

start_coord

say "unknown device: exit 1 with a message"
out=$(ctl device show dev-9 2>&1); rc=$?
(( rc == 1 )) || fail "device show dev-9: expected exit 1, got $rc"
echo "$out" | grep -q "^weftctl: .*dev-9" || fail "device show dev-9: message '$out'"
out=$(ctl twin get dev-9 2>&1); rc=$?
(( rc == 1 )) || fail "twin get dev-9: expected exit 1, got $rc ($out)"

say "bad JSON: exit 2 with line and column, nothing sent"
calls=$(counter rpc_calls)
out=$(ctl twin set dev-9 '{"sampling_ms": }' 2>&1); rc=$?
(( rc == 2 )) || fail "bad JSON: expected exit 2, got $rc"
echo "$out" | grep -Eq "^weftctl: bad JSON at line 1 column [0-9]+: " || fail "bad JSON message: '$out'"
out=$(ctl twin set dev-9 $'{\n  "a": 1,\n  "b": tru\n}' 2>&1); rc=$?
(( rc == 2 )) || fail "bad JSON (multi-line): expected exit 2, got $rc"
echo "$out" | grep -Eq "bad JSON at line 3 column [0-9]+" || fail "multi-line bad JSON message: '$out'"
out=$(ctl twin set dev-9 '[1, 2]' 2>&1); rc=$?
(( rc == 2 )) || fail "non-object patch: expected exit 2, got $rc ($out)"
out=$(ctl frobnicate 2>&1); rc=$?
(( rc == 2 )) || fail "unknown command: expected exit 2, got $rc ($out)"
out=$(ctl token create --ttl 1fortnight 2>&1); rc=$?
(( rc == 2 )) || fail "bad ttl: expected exit 2, got $rc ($out)"
out=$(ctl device list --tenant acme 2>&1); rc=$?
(( rc == 2 )) || fail "an option the command ignores: expected exit 2, got $rc ($out)"
out=$(ctl operator add x --role viewer 2>&1); rc=$?
(( rc == 2 )) || fail "operator add without --out: expected exit 2, got $rc ($out)"
after=$(counter rpc_calls)
(( after - calls <= 1 )) || fail "usage errors reached the coordinator ($calls -> $after rpc calls)"

say "coordinator unreachable: exit 3 within the timeout"
dead_port=$(free_port)
sed "s|^endpoint=.*|endpoint=tcp://127.0.0.1:$dead_port|" "$WEFT_IDENTITY" > "$T/dead.op"
chmod 600 "$T/dead.op"
start=$(date +%s%N)
out=$(WEFT_IDENTITY="$T/dead.op" "$CTL" --timeout 2 device list 2>&1); rc=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
(( rc == 3 )) || fail "unreachable: expected exit 3, got $rc ($out)"
echo "$out" | grep -q "did not answer within 2s" || fail "unreachable message: '$out'"
(( elapsed_ms >= 1900 && elapsed_ms < 4000 )) || fail "unreachable took ${elapsed_ms}ms for --timeout 2"

say "an identity file others can read is refused"
cp "$WEFT_IDENTITY" "$T/open.op"; chmod 644 "$T/open.op"
out=$(WEFT_IDENTITY="$T/open.op" "$CTL" device list 2>&1) && fail "weftctl used a world-readable identity"
echo "$out"

say "the coordinator refuses to start with a readable ca.key"
stop_proc coord TERM
chmod 0644 "$COORD_DIR/ca.key"
rc=0
out=$(timeout 10 "$COORD" --data-dir "$COORD_DIR" --bind 127.0.0.1 --mesh-port "$MESH_PORT" \
        --enrol-port "$ENROL_PORT" --rpc-port "$RPC_PORT" 2>&1) || rc=$?
(( rc != 0 && rc != 124 )) || fail "coordinator started (or hung) with ca.key mode 0644 (rc $rc)"
echo "$out" | grep -q "ca.key" || fail "coordinator's refusal does not name ca.key: '$out'"
echo "refused as expected: $out"
chmod 0600 "$COORD_DIR/ca.key"
start_coord
say "ok"
