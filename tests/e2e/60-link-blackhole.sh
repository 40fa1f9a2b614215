#!/usr/bin/env bash
#   60-link-blackhole - a link whose packets are dropped silently (an IP
#   blackhole: no RST, no ICMP, the connection is not told) is noticed
#   within 3 heartbeat intervals (2 s here: the timers notice it within
#   5/2 of them, and the half interval left absorbs this busy machine). The coordinator, a site
#   server and a gateway each run in a network namespace of their own,
#   joined by a router namespace (netns-lib.sh). The gateway links to
#   the coordinator directly and to the server.
#   1. Blackhole gateway <-> coordinator: the connection is not reset
#      (still established a moment later), yet the gateway re-routes
#      through the server within 6 s, the coordinator drops its side of
#      the dead connection within 6 s, and the gateway's twin flows
#      through the server.
#   2. Blackhole gateway <-> server too: the server's listener lets the
#      gateway go within 6 s, and the coordinator reports it offline
#      within 6 s of the cut.
#   3. Heal both: the gateway links to the coordinator directly again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mesh-lib.sh"
source "$(dirname "$0")/netns-lib.sh"

HEARTBEAT=2
LIMIT_MS=$((3 * HEARTBEAT * 1000))
netns_site coord srv gw
G=${NETNS_ADDR[gw]}

say "coordinator in its namespace ($C), heartbeat $HEARTBEAT s"
netns_coordinator $HEARTBEAT -v

#   start_in NAMESPACE NAME [args]: a node in a namespace (lib.sh's node_args)
start_in () { netns_node "$@" --heartbeat $HEARTBEAT; }
say "server ($S) and gateway ($G)"
start_in srv srv --token-file "$(new_token_file)" --listen "tcp://$S:7720"
wait_for "grep -q '^cert=' '$T/srv/node.key'" 20 || fail "srv did not enrol"
start_in gw gw --token-file "$(new_token_file)" --neighbour "$(curve srv)@tcp://$S:7720"
wait_for 'is_online gw && is_online srv && [[ "$(hops gw)" == 1 ]]' 30 \
    || fail "gateway not online directly: $(ctl device list)"
wait_for 'grep -q "mesh: neighbour srv on" "$T/gw.log"' 15 || fail "gateway has no link to srv"
[[ "$(netns_established gw "$C")" -ge 1 ]] || fail "no connection from gw to the coordinator"

#   since NAME PATTERN: the pattern is in NAME's log after the line it
#   had when mark_logs ran
declare -A MARK=()
mark_logs () { local n; for n in gw srv coord; do MARK[$n]=$(wc -l < "$T/$n.log"); done; }
since () { tail -n +$((MARK[$1] + 1)) "$T/$1.log" | grep -q "$2"; }

#   wait_ms CONDITION LIMIT: poll every 50 ms; prints the milliseconds it
#   took (from $START), fails past 2 * LIMIT
wait_ms () {
    local condition=$1 limit=$2 t
    while true; do
        t=$(now_ms)
        eval "$condition" > /dev/null 2>&1 && { echo $((t - START)); return 0; }
        (( t - START > 2 * limit )) && return 1
        sleep 0.05
    done
}

say "1. blackhole gateway <-> coordinator"
mark_logs
START=$(now_ms)
netns_blackhole gw coord
sleep 0.5
[[ "$(netns_established gw "$C")" -ge 1 ]] || fail "the blackhole reset the connection (not silent)"
since gw "disconnected from tcp://$C" && fail "the link dropped before any timeout"
rerouted=$(wait_ms 'since gw "route to the coordinator via srv"' $LIMIT_MS) \
    || fail "the gateway did not re-route through srv"
dropped=$(wait_ms '[[ "$(netns_established coord "$G")" == 0 ]]' $LIMIT_MS) \
    || fail "the coordinator kept the dead connection"
say "re-routed after ${rerouted} ms; coordinator let go after ${dropped} ms (limit $LIMIT_MS)"
(( rerouted <= LIMIT_MS )) || fail "re-route took $rerouted ms, more than 3 heartbeat intervals"
(( dropped <= LIMIT_MS )) || fail "the coordinator took $dropped ms to drop the dead link"
ctl twin set gw '{"via": "srv"}' > /dev/null || fail "twin set"
wait_for 'twin_synced gw via srv && [[ "$(hops gw)" == 2 ]]' 15 \
    || fail "the gateway's twin did not flow through srv: $(ctl --json twin get gw)"

say "2. blackhole gateway <-> server: nothing left to the gateway"
mark_logs
START=$(now_ms)
netns_blackhole gw srv
lost=$(wait_ms 'since srv "mesh: neighbour gw on r:.* lost"' $LIMIT_MS) \
    || fail "the server's listener kept the gateway"
offline=$(wait_ms '! is_online gw' $LIMIT_MS) || fail "the gateway is still reported online"
say "server let go after ${lost} ms; reported offline after ${offline} ms (limit $LIMIT_MS)"
(( lost <= LIMIT_MS )) || fail "the server took $lost ms to drop the gateway"
#   Offline is 3 intervals after the last heartbeat the coordinator got,
#   which was before the cut: allow one poll (an RPC and 50 ms)
(( offline <= LIMIT_MS + 250 )) || fail "the gateway was reported offline after $offline ms"

say "3. heal: the gateway links directly again"
netns_heal gw coord
netns_heal gw srv
wait_for 'is_online gw && [[ "$(hops gw)" == 1 ]]' 30 || fail "the gateway did not come back"
say "ok"
