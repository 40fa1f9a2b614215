#   lib.sh - shared helpers for the end-to-end scenarios
#   Source it from a scenario. It makes a private temp dir under /tmp,
#   picks free loopback ports, starts the real binaries from $WEFT_BUILD
#   in the background, and on exit (success, failure or signal) stops
#   every process it started (SIGTERM, then SIGKILL) and removes the dir.
#   Everything listens on and dials 127.0.0.1 only.

set -u
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WEFT_BUILD=${WEFT_BUILD:-$E2E_ROOT/build}
WEFT_BUILD=$(cd "$WEFT_BUILD" && pwd)
COORD="$WEFT_BUILD/weft-coord"
NODE="$WEFT_BUILD/weft-node"
CTL="$WEFT_BUILD/weftctl"
PROBE="$WEFT_BUILD/weft-probe"
for bin in "$COORD" "$NODE" "$CTL" "$PROBE"; do
    [[ -x "$bin" ]] || { echo "FAIL: $bin is missing (build first)" >&2; exit 1; }
done

T=$(mktemp -d /tmp/weft-e2e.XXXXXX)
declare -A PID_OF=()            #   name -> pid of a running process
E2E_CLEANUP_HOOKS=()            #   Functions run after every process stopped
PORTS_TAKEN=" "
E2E_NAME=$(basename "$0" .sh)

#   Stop every process we started, then remove the temp dir.
e2e_cleanup () {
    local rc=$?
    trap - EXIT INT TERM
    local name pid
    for name in "${!PID_OF[@]}"; do
        pid=${PID_OF[$name]}
        kill -TERM "$pid" 2>/dev/null
    done
    for name in "${!PID_OF[@]}"; do
        pid=${PID_OF[$name]}
        for _ in $(seq 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        { wait "$pid"; } 2>/dev/null
    done
    local hook
    for hook in "${E2E_CLEANUP_HOOKS[@]}"; do
        "$hook"
    done
    if (( rc != 0 )) && [[ -z "${E2E_KEEP:-}" ]]; then
        #   Leave the logs in the test output, then forget them
        for log in "$T"/*.log; do
            [[ -e "$log" ]] || continue
            echo "---- $(basename "$log") (last 15 lines)"
            tail -n 15 "$log"
        done
    fi
    if [[ -n "${E2E_KEEP:-}" ]]; then
        echo "kept $T"
    else
        rm -rf "$T"
    fi
    exit $rc
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

say () { echo "-- $*"; }
fail () { echo "FAIL [$E2E_NAME]: $*" >&2; exit 1; }

#   A random free TCP port on 127.0.0.1, not handed out before in this
#   test. It is taken below the kernel's ephemeral range, so an outgoing
#   connection cannot be holding it, and no socket may use it in any state.
free_port () {
    local port low
    low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
    (( ${low:-0} > 20000 )) || low=32768
    for _ in $(seq 100); do
        port=$(( 20000 + RANDOM % (low - 20000) ))
        [[ "$PORTS_TAKEN" == *" $port "* ]] && continue
        if [[ -z "$(ss -Htan "( sport = :$port )" 2>/dev/null)" ]]; then
            PORTS_TAKEN="$PORTS_TAKEN$port "
            echo "$port"
            return 0
        fi
    done
    fail "no free port found"
}

#   wait_for "shell condition" [seconds]: poll until it holds.
wait_for () {
    local condition=$1 seconds=${2:-15}
    local deadline=$(( $(date +%s%N) / 1000000 + seconds * 1000 ))
    while (( $(date +%s%N) / 1000000 < deadline )); do
        if eval "$condition" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

#   Value at a dotted path of JSON on stdin (see weft-probe json).
jget () { "$PROBE" json "$1"; }

#   weftctl as the current identity (WEFT_IDENTITY).
ctl () { "$CTL" --timeout 5 "$@"; }

#   Pick the coordinator's three ports.
coord_ports () {
    MESH_PORT=$(free_port)
    ENROL_PORT=$(free_port)
    RPC_PORT=$(free_port)
    MESH_EP="tcp://127.0.0.1:$MESH_PORT"
    ENROL_EP="tcp://127.0.0.1:$ENROL_PORT"
    RPC_EP="tcp://127.0.0.1:$RPC_PORT"
}
coord_ports
COORD_DIR="$T/coord"
export WEFT_IDENTITY="$COORD_DIR/admin.op"
COORD_STARTS=0

#   Start the coordinator (same dir and ports every time) and wait until
#   it answers RPC. On its very first start, a port that another program
#   grabbed between our check and its bind is retried with fresh ports.
start_coord () {
    local attempt
    for attempt in 1 2 3; do
        "$COORD" --data-dir "$COORD_DIR" --bind 127.0.0.1 --mesh-port "$MESH_PORT" \
            --enrol-port "$ENROL_PORT" --rpc-port "$RPC_PORT" -v "$@" \
            >> "$T/coord.log" 2>&1 &
        PID_OF[coord]=$!
        wait_for "! kill -0 ${PID_OF[coord]} || { [[ -s '$WEFT_IDENTITY' ]] && ctl --timeout 1 stats; }" 20
        if kill -0 "${PID_OF[coord]}" 2>/dev/null && ctl --timeout 1 stats > /dev/null 2>&1; then
            COORD_STARTS=$((COORD_STARTS + 1))
            return 0
        fi
        if (( COORD_STARTS == 0 )) && grep -q "Address already in use" "$T/coord.log"; then
            stop_proc coord KILL
            mv "$T/coord.log" "$T/coord-attempt$attempt.log.old"
            rm -rf "$COORD_DIR"
            coord_ports
            continue
        fi
        break
    done
    fail "coordinator did not come up (see coord.log)"
}

#   Stop a started process: stop_proc NAME [SIGNAL] (default TERM).
#   Its stderr is silenced so bash's "Killed" job notice stays out of the log.
stop_proc () {
    s_stop_proc "$@" 2>/dev/null
}
s_stop_proc () {
    local name=$1 signal=${2:-TERM}
    local pid=${PID_OF[$name]:-}
    [[ -n "$pid" ]] || return 0
    kill "-$signal" "$pid" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    { wait "$pid"; } 2>/dev/null
    unset "PID_OF[$name]"
}

#   The arguments every node gets: node_args NAME [args the caller adds].
#   Nodes write their desired twin to $T/NAME.applied.json unless the
#   caller gives an --apply-command.
node_args () {
    local name=$1; shift
    echo --data-dir "$T/$name" --name "$name" --coordinator "$MESH_EP" \
        --enrol-endpoint "$ENROL_EP" --heartbeat 1 -v
    [[ " $* " == *" --apply-command "* ]] || echo --apply-file "$T/$name.applied.json"
}

#   Start a node in the background: start_node NAME [--token-file F] [args...]
start_node () {
    local name=$1; shift
    # shellcheck disable=SC2046
    "$NODE" $(node_args "$name" "$@") "$@" >> "$T/$name.log" 2>&1 &
    PID_OF[$name]=$!
}

#   Run a node in the foreground that is expected to exit (a refused
#   enrolment). Prints its output; returns its exit code.
run_node () {
    local name=$1; shift
    local rc=0
    # shellcheck disable=SC2046
    timeout 20 "$NODE" $(node_args "$name" "$@") "$@" > "$T/$name.log" 2>&1 || rc=$?
    cat "$T/$name.log"
    return $rc
}

#   Make a token: new_token [weftctl token create options]
new_token () {
    ctl token create "$@" 2>/dev/null
}

#   Make a token in a new file of mode 0600 and print the file's path,
#   for weft-node --token-file (a token is never on a command line):
#   new_token_file [weftctl token create options]
new_token_file () {
    local file
    file=$(mktemp -u "$T/token.XXXXXX")
    ctl token create --out "$file" "$@" 2>/dev/null && echo "$file"
}

#   Put a token text into a new file of mode 0600; print its path.
token_file () {
    local file
    file=$(mktemp "$T/token.XXXXXX")
    printf '%s\n' "$1" > "$file"
    echo "$file"
}

#   An operator made by the current identity, its identity in
#   $T/NAME.op: add_op NAME [weftctl operator add options]
add_op () {
    ctl operator add "$@" --out "$T/$1.op" > /dev/null || fail "operator add $*"
}

#   weftctl as operator NAME ($T/NAME.op): as_op NAME [weftctl args]
as_op () {
    local who=$1; shift
    WEFT_IDENTITY="$T/$who.op" "$CTL" --timeout 5 "$@"
}

#   Import hierarchy nodes: import_tree PATH...; a one-segment path is
#   an enterprise (a tenant's root), any other a site
import_tree () {
    local path level sep="" nodes=""
    for path in "$@"; do
        [[ "$path" == */* ]] && level=site || level=enterprise
        nodes="$nodes$sep{\"path\": \"$path\", \"level\": \"$level\"}"
        sep=", "
    done
    printf '{"version": 1, "nodes": [%s]}\n' "$nodes" > "$T/tree.json"
    ctl hierarchy import "$T/tree.json" > /dev/null || fail "hierarchy import $*"
}

#   Is device ID online according to the coordinator?
is_online () {
    [[ "$(ctl --json device show "$1" | jget online)" == "true" ]]
}

#   Number of devices the coordinator reports online.
online_count () {
    ctl --json device list | jget 'devices.*.online' | grep -c '^true$'
}

#   A counter from weftctl stats.
counter () {
    ctl --json stats | jget "$1"
}

#   Has the node applied and reported back desired field KEY = VALUE?
#   twin_synced ID KEY VALUE
twin_synced () {
    local id=$1 key=$2 value=$3 twin
    [[ "$(jget "$key" < "$T/$id.applied.json")" == "$value" ]] || return 1
    twin=$(ctl --json twin get "$id") || return 1
    [[ "$(echo "$twin" | jget "reported.$key")" == "$value" ]] || return 1
    [[ "$(echo "$twin" | jget status)" == ok ]] || return 1
    [[ "$(echo "$twin" | jget applied_version)" == "$(echo "$twin" | jget desired_version)" ]]
}

#   A value from an identity or key file (name=value lines).
keyfile_value () {
    sed -n "s/^$2=//p" "$1" | head -n 1
}
