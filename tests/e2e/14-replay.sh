#!/usr/bin/env bash
#   14-replay - a replayed envelope (same origin and seq) is refused,
#   also after the coordinator restarts; a forged signature and an origin
#   that differs from the authenticated link are refused too. Sent as
#   custody transfers, each refusal comes back as a CUSTODY_ACK with its
#   status and reason (a report naming another device also as an ACK). Operator
#   requests are refused as replays by request id until they expire:
#   parallel weftctl runs pass, a resent request is refused, also after
#   a restart.
source "$(dirname "$0")/lib.sh"

start_coord
start_node n1 --token-file "$(new_token_file)"
start_node n2 --token-file "$(new_token_file)"
wait_for '[[ "$(online_count)" == 2 ]]' 20 || fail "nodes did not come online"
ctl twin set n1 '{"sampling_ms": 700}' > /dev/null || fail "twin set"
wait_for "twin_synced n1 sampling_ms 700" 20 || fail "n1 did not report"

#   From here the probe speaks as n1, so n1 itself must be quiet
stop_proc n1 TERM
KEY="$T/n1/node.key"
seq=$(( $(date +%s%N) / 1000 ))      #   far above anything n1 used

say "first send of seq $seq is accepted"
replay0=$(counter rejected_replay)
sig0=$(counter rejected_signature)
out=$("$PROBE" replay "$MESH_EP" --keyfile "$KEY" --seq "$seq") || fail "probe replay failed: $out"
echo "$out"
sleep 1
[[ "$(counter rejected_replay)" == "$replay0" ]] || fail "a fresh seq was counted as a replay"
[[ "$(counter rejected_signature)" == "$sig0" ]] || fail "a good signature was refused"
echo "$out" | grep -q "received TWIN_DESIRED" \
    || echo "note: no TWIN_DESIRED answered the stale heartbeat"

say "the same seq again is refused"
out=$("$PROBE" replay "$MESH_EP" --keyfile "$KEY" --seq "$seq") || fail "probe replay failed: $out"
wait_for "[[ \$(counter rejected_replay) == $((replay0 + 1)) ]]" 10 \
    || fail "replay not refused: rejected_replay $(counter rejected_replay), expected $((replay0 + 1))"
echo "$out" | grep -q "received TWIN_DESIRED" && fail "the coordinator acted on a replay"

say "after a coordinator restart, the same seq is still refused"
stop_proc coord KILL
start_coord
replay1=$(counter rejected_replay)
"$PROBE" replay "$MESH_EP" --keyfile "$KEY" --seq "$seq" > /dev/null || fail "probe replay failed"
wait_for "[[ \$(counter rejected_replay) == $((replay1 + 1)) ]]" 10 \
    || fail "replay after restart not refused: rejected_replay $(counter rejected_replay)"
"$PROBE" replay "$MESH_EP" --keyfile "$KEY" --seq $((seq - 100)) > /dev/null || fail "probe replay failed"
wait_for "[[ \$(counter rejected_replay) == $((replay1 + 2)) ]]" 10 \
    || fail "a seq below the window was not refused"

say "a forged signature is refused"
sig1=$(counter rejected_signature)
"$PROBE" forge "$MESH_EP" --keyfile "$KEY" > /dev/null || fail "probe forge failed"
wait_for "[[ \$(counter rejected_signature) == $((sig1 + 1)) ]]" 10 \
    || fail "forgery not refused: rejected_signature $(counter rejected_signature)"

say "an origin that differs from the link's identity is refused"
origin1=$(counter rejected_origin)
"$PROBE" replay "$MESH_EP" --keyfile "$KEY" --origin n2 --seq $((seq + 1)) > /dev/null \
    || fail "probe replay --origin failed"
wait_for "[[ \$(counter rejected_origin) == $((origin1 + 1)) ]]" 10 \
    || fail "spoofed origin not refused: rejected_origin $(counter rejected_origin)"
is_online n2 || fail "n2 went offline"

say "as custody transfers, each refusal is acknowledged with its status and reason"
ack () { "$PROBE" "$@" | sed -n 's/^custody-ack //p'; }
out=$(ack replay "$MESH_EP" --keyfile "$KEY" --seq "$seq" --custody)
[[ "$out" == "DENIED replayed: seq $seq of n1 was seen or is too old" ]] \
    || fail "replay as custody: '$out'"
out=$(ack forge "$MESH_EP" --keyfile "$KEY" --custody)
[[ "$out" == "DENIED not authenticated: n1 is unknown or revoked, or the signature does not verify" ]] \
    || fail "forgery as custody: '$out'"
out=$(ack replay "$MESH_EP" --keyfile "$KEY" --seq $((seq + 10)) --custody --expired)
[[ "$out" == "EXPIRED expired at "* ]] || fail "expired as custody: '$out'"
out=$(ack replay "$MESH_EP" --keyfile "$KEY" --seq $((seq + 11)) --custody)
[[ "$out" == "OK " ]] || fail "a fresh heartbeat as custody: '$out'"

say "a report naming another device: refused, custody and retransmissions end"
out=$("$PROBE" replay "$MESH_EP" --keyfile "$KEY" --seq $((seq + 12)) --custody --report-of n2)
echo "$out"
echo "$out" | grep -qx "custody-ack DENIED report names device n2, not its origin n1" \
    || fail "no refusing CUSTODY_ACK: $out"
echo "$out" | grep -qx "ack DENIED report names device n2, not its origin n1" \
    || fail "no refusing ACK to the device: $out"
[[ "$(ctl --json twin get n2 | jget reported_version)" != $((seq + 12)) ]] \
    || fail "the foreign report was stored"

say "operators: parallel weftctl runs under one identity are never refused as replays"
before=$(ctl --json twin get n2 | jget desired_version)
pids=()
for i in $(seq 16); do
    ctl twin set n2 "{\"parallel\": $i}" > "$T/parallel.$i" 2>&1 &
    pids+=($!)
done
for pid in "${pids[@]}"; do
    wait "$pid" || fail "a parallel weftctl run failed: $(cat "$T"/parallel.* | grep -v desired | head -3)"
done
[[ "$(ctl --json twin get n2 | jget desired_version)" == $((before + 16)) ]] \
    || fail "not every parallel patch applied"

say "operators: a replayed request is refused, also after a coordinator restart"
replay0=$(counter rejected_replay)
WEFT_CTL_SAVE_REQUEST="$T/request.bin" "$CTL" --timeout 40 twin set n2 '{"once": 1}' > /dev/null \
    || fail "the original request failed"
version=$(ctl --json twin get n2 | jget desired_version)
#   As docs/protocol.md says: no seq, an expiry at most 60 s ahead
sent=$("$PROBE" decode "$T/request.bin") || fail "weftctl's request is not an envelope"
[[ "$(echo "$sent" | jget seq)" == 0 ]] || fail "weftctl's request carries a seq: $sent"
ahead=$(( $(echo "$sent" | jget expiry) - $(date +%s%3N) ))
(( ahead > 0 && ahead <= 60000 )) || fail "weftctl's request expires $ahead ms ahead: $sent"
out=$(WEFT_CTL_SEND_REQUEST="$T/request.bin" "$CTL" --timeout 5 twin set n2 '{}' 2>&1) \
    && fail "a replayed operator request was accepted: $out"
echo "$out" | grep -q "replayed request" || fail "replay: $out"
stop_proc coord KILL
start_coord
out=$(WEFT_CTL_SEND_REQUEST="$T/request.bin" "$CTL" --timeout 5 twin set n2 '{}' 2>&1) \
    && fail "a replayed operator request was accepted after a restart: $out"
echo "$out" | grep -q "replayed request" || fail "replay after restart: $out"
[[ "$(ctl --json twin get n2 | jget desired_version)" == "$version" ]] \
    || fail "a replayed request changed the twin"
(( $(counter rejected_replay) >= 1 )) || fail "rejected_replay not counted"
say "ok"
