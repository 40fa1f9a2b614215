#!/usr/bin/env bash
#   demo.sh - a coordinator and three nodes on loopback, one twin round trip
#   Usage: tools/demo.sh BUILD_DIR   (run by "make demo")
#   Everything lives in a temp dir and on free 127.0.0.1 ports; every
#   process is stopped and the dir removed on exit, even on Ctrl-C.
set -u
BUILD=$(cd "${1:-build}" && pwd) || exit 1
COORD="$BUILD/weft-coord"
NODE="$BUILD/weft-node"
CTL="$BUILD/weftctl"
for bin in "$COORD" "$NODE" "$CTL"; do
    [[ -x "$bin" ]] || { echo "demo: $bin is missing; run make first" >&2; exit 1; }
done

DIR=$(mktemp -d /tmp/weft-demo.XXXXXX)
PIDS=()
NODES=(gw-north gw-south gw-east)

s_cleanup () {
    local rc=$?
    trap - EXIT INT TERM
    echo
    echo "==> stopping ${#PIDS[@]} processes"
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        { wait "$pid"; } 2>/dev/null
    done
    if (( rc != 0 )); then
        echo "demo failed; last lines of the logs:"
        for log in "$DIR"/*.log; do
            [[ -e "$log" ]] && { echo "--- $(basename "$log")"; tail -n 8 "$log"; }
        done
    fi
    rm -rf "$DIR"
    exit $rc
}
trap s_cleanup EXIT
trap 'exit 130' INT TERM

s_die () { echo "demo: $*" >&2; exit 1; }

#   A free port below the kernel's ephemeral range (where no outgoing
#   connection can hold it), unused in any TCP state.
s_free_port () {
    local port low
    low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
    (( ${low:-0} > 20000 )) || low=32768
    while true; do
        port=$(( 20000 + RANDOM % (low - 20000) ))
        [[ " ${TAKEN:-} " == *" $port "* ]] && continue
        [[ -z "$(ss -Htan "( sport = :$port )" 2>/dev/null)" ]] && { echo "$port"; return; }
    done
}

s_wait_for () {            #   condition, seconds
    local deadline=$(( SECONDS + $2 ))
    while (( SECONDS < deadline )); do
        eval "$1" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

ctl () { "$CTL" --timeout 5 "$@"; }

export WEFT_IDENTITY="$DIR/coord/admin.op"
for attempt in 1 2 3; do
    TAKEN=""
    MESH=$(s_free_port); TAKEN="$MESH"
    ENROL=$(s_free_port); TAKEN="$TAKEN $ENROL"
    RPC=$(s_free_port)
    echo "==> starting the coordinator on 127.0.0.1 (mesh $MESH, enrol $ENROL, rpc $RPC)"
    "$COORD" --data-dir "$DIR/coord" --bind 127.0.0.1 --mesh-port "$MESH" \
        --enrol-port "$ENROL" --rpc-port "$RPC" > "$DIR/coord.log" 2>&1 &
    COORD_PID=$!
    PIDS+=($COORD_PID)
    s_wait_for "! kill -0 $COORD_PID || { [[ -s '$WEFT_IDENTITY' ]] && ctl --timeout 1 stats; }" 20
    kill -0 "$COORD_PID" 2>/dev/null && ctl --timeout 1 stats > /dev/null 2>&1 && break
    #   Someone took a port between our check and the bind: try others
    grep -q "Address already in use" "$DIR/coord.log" || s_die "the coordinator did not start"
    (( attempt < 3 )) || s_die "the coordinator did not start"
    echo "    a port was taken meanwhile; trying others"
    rm -rf "$DIR/coord"
done
echo "    CA, coordinator keys and the admin identity are in $DIR/coord"

echo "==> enrolling ${#NODES[@]} nodes, each with its own single-use token"
for name in "${NODES[@]}"; do
    #   The token goes into a file only we read, never onto a command
    #   line (any local user can read those); weftctl prints its id
    said=$(ctl token create --ttl 10m --out "$DIR/$name.token" 2>&1) \
        || s_die "token create failed: $said"
    printf '    %-9s %s\n' "$name" "${said%%, single use*}"
    "$NODE" --data-dir "$DIR/$name" --name "$name" --coordinator "tcp://127.0.0.1:$MESH" \
        --enrol-endpoint "tcp://127.0.0.1:$ENROL" --token-file "$DIR/$name.token" \
        --apply-file "$DIR/$name.json" --heartbeat 1 > "$DIR/$name.log" 2>&1 &
    PIDS+=($!)
done
s_online () {
    [[ $(ctl --json device list | grep -c '"online": true') == "${#NODES[@]}" ]]
}
s_wait_for s_online 30 || s_die "the nodes did not come online"
echo "    all ${#NODES[@]} online"

PATCH='{"sampling_ms": 500}'
echo "==> weftctl twin set <node> '$PATCH'"
for name in "${NODES[@]}"; do
    ctl twin set "$name" "$PATCH" > /dev/null || s_die "twin set $name failed"
done

echo "==> waiting for every node to apply it and report back"
s_synced () {
    local twin
    twin=$(ctl --json twin get "$1") || return 1
    echo "$twin" | grep -q '"status": "ok"' || return 1
    local desired applied
    desired=$(echo "$twin" | sed -n 's/^  "desired_version": \([0-9]*\).*/\1/p')
    applied=$(echo "$twin" | sed -n 's/^  "applied_version": \([0-9]*\).*/\1/p')
    [[ -n "$desired" && "$desired" == "$applied" ]] || return 1
    grep -q '"sampling_ms": *500' "$DIR/$1.json"
}
for name in "${NODES[@]}"; do
    s_wait_for "s_synced $name" 30 || s_die "$name did not report the change"
    twin=$(ctl --json twin get "$name")
    version=$(echo "$twin" | sed -n 's/^  "applied_version": \([0-9]*\).*/\1/p')
    reported=$(echo "$twin" | tr -d '\n ' | sed -n 's/.*"reported":\({[^}]*}\).*/\1/p')
    printf '    %-9s applied desired v%s, reports %s\n' "$name" "$version" "$reported"
done

echo "==> weftctl twin get ${NODES[0]}"
ctl twin get "${NODES[0]}" | sed 's/^/    /'
echo "==> weftctl device list"
ctl device list | sed 's/^/    /'
echo
echo "Done: enrolled ${#NODES[@]} nodes and made a twin round trip on each."
