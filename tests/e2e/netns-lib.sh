#   netns-lib.sh - daemons in network namespaces of their own, sourced
#   after lib.sh by the link tests (6x-link-*.sh). Every namespace is
#   joined to one "router" namespace by a veth pair, with addresses in
#   10.213.N.0/24 that exist only inside these namespaces; the router
#   forwards between them. Faults are made in the router, below TCP:
#   netns_blackhole drops every packet between two namespaces silently
#   (ip rule ... blackhole: no RST, no ICMP, the connection is not told),
#   netns_loss drops a share of them at random (nftables). Cleanup runs
#   from lib.sh's exit trap, after every process is stopped, also when
#   a test fails. Needs root, iproute2 (and nftables for loss).

NETNS_PREFIX="weft$$"
NETNS_ROUTER="${NETNS_PREFIX}r"
declare -A NETNS_ADDR=()        #   name -> address of its namespace
declare -a NETNS_NAMES=()
NETNS_NEXT=1

netns_cleanup () {
    local name
    for name in "${NETNS_NAMES[@]}"; do
        ip netns del "$NETNS_PREFIX$name" 2>/dev/null
    done
    ip netns del "$NETNS_ROUTER" 2>/dev/null
}
E2E_CLEANUP_HOOKS+=(netns_cleanup)

#   The router namespace; call once before netns_add.
netns_router () {
    [[ "$(id -u)" == 0 ]] || fail "network namespaces need root"
    ip netns add "$NETNS_ROUTER" || fail "cannot create namespace $NETNS_ROUTER"
    ip -n "$NETNS_ROUTER" link set lo up
    ip netns exec "$NETNS_ROUTER" sysctl -qw net.ipv4.ip_forward=1 \
        || fail "cannot turn forwarding on in the router namespace"
}

#   netns_site NAME...: the router and a namespace for each NAME, with
#   C and S set to the addresses of "coord" and "srv" when named.
netns_site () {
    local name
    netns_router
    for name in "$@"; do netns_add "$name"; done
    C=${NETNS_ADDR[coord]:-}
    S=${NETNS_ADDR[srv]:-}
}

#   netns_add NAME: a namespace linked to the router; its address is
#   ${NETNS_ADDR[NAME]}.
netns_add () {
    local name=$1 n=$NETNS_NEXT
    local ns="$NETNS_PREFIX$name"
    NETNS_NEXT=$((NETNS_NEXT + 1))
    NETNS_NAMES+=("$name")
    ip netns add "$ns" || fail "cannot create namespace $ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" link add name eth0 type veth peer name "v$n" netns "$NETNS_ROUTER" \
        || fail "cannot create the veth pair of $name"
    ip -n "$ns" addr add "10.213.$n.2/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "10.213.$n.1"
    ip -n "$NETNS_ROUTER" addr add "10.213.$n.1/24" dev "v$n"
    ip -n "$NETNS_ROUTER" link set "v$n" up
    NETNS_ADDR[$name]="10.213.$n.2"
}

#   netns_exec NAME command...: run it in NAME's namespace (foreground;
#   a background process is started with netns_start, so that its pid is
#   the program's own and the exit trap stops it)
netns_exec () {
    local name=$1; shift
    ip netns exec "$NETNS_PREFIX$name" "$@"
}

#   netns_start NAMESPACE PROC LOG command...: run command in the
#   background in NAMESPACE, output appended to LOG; PID_OF[PROC] is the
#   program's pid (ip netns exec execs it in place)
netns_start () {
    local ns=$1 proc=$2 log=$3; shift 3
    ip netns exec "$NETNS_PREFIX$ns" "$@" >> "$log" 2>&1 &
    PID_OF[$proc]=$!
}

#   netns_blackhole A B: from now on every packet between A and B, both
#   ways, is dropped in the router without a trace. netns_heal A B ends it.
netns_blackhole () {
    ip -n "$NETNS_ROUTER" rule add from "${NETNS_ADDR[$1]}" to "${NETNS_ADDR[$2]}" blackhole
    ip -n "$NETNS_ROUTER" rule add from "${NETNS_ADDR[$2]}" to "${NETNS_ADDR[$1]}" blackhole
}
netns_heal () {
    ip -n "$NETNS_ROUTER" rule del from "${NETNS_ADDR[$1]}" to "${NETNS_ADDR[$2]}" blackhole
    ip -n "$NETNS_ROUTER" rule del from "${NETNS_ADDR[$2]}" to "${NETNS_ADDR[$1]}" blackhole
}

#   netns_loss PERCENT: the router drops that share of every packet it
#   forwards, at random (nftables numgen), both ways. Needs nft.
netns_loss () {
    command -v nft > /dev/null || fail "nft is missing (make deps installs nftables)"
    ip netns exec "$NETNS_ROUTER" nft -f - <<EOF || fail "cannot set the loss rule"
table inet weftloss {
    chain forward {
        type filter hook forward priority 0; policy accept;
        numgen random mod 100 < $1 counter drop
    }
}
EOF
}

#   Packets the loss rule dropped so far (nft counter).
netns_loss_dropped () {
    ip netns exec "$NETNS_ROUTER" nft list ruleset 2>/dev/null \
        | awk '/drop/ { for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1) }'
}

#   weftctl runs next to the coordinator (its admin.op names 127.0.0.1)
ctl () { netns_exec coord "$CTL" --timeout 10 "$@"; }

#   netns_coordinator HEARTBEAT [args]: weft-coord in namespace "coord"
#   (netns_add coord first) on all its interfaces, with --heartbeat
#   HEARTBEAT; MESH_EP and ENROL_EP point at it
netns_coordinator () {
    local heartbeat=$1; shift
    MESH_EP="tcp://${NETNS_ADDR[coord]}:7710"
    ENROL_EP="tcp://${NETNS_ADDR[coord]}:7711"
    netns_start coord coord "$T/coord.log" "$COORD" --data-dir "$COORD_DIR" --bind 0.0.0.0 \
        --mesh-port 7710 --enrol-port 7711 --rpc-port 7712 --heartbeat "$heartbeat" "$@"
    wait_for "[[ -s '$WEFT_IDENTITY' ]] && ctl --timeout 1 stats" 20 \
        || fail "coordinator did not come up"
}

#   netns_node NAMESPACE NAME [args]: a weft-node in a namespace, with
#   lib.sh's node_args (give MESH_EP and ENROL_EP first); later args win
netns_node () {
    local ns=$1 name=$2; shift 2
    # shellcheck disable=SC2046
    netns_start "$ns" "$name" "$T/$name.log" "$NODE" $(node_args "$name" "$@") "$@"
}

#   Established TCP connections in NAME's namespace to ADDRESS (any port)
netns_established () {
    netns_exec "$1" ss -Htn state established "( dst $2 )" 2>/dev/null | grep -c .
}

#   Milliseconds since the epoch
now_ms () { echo $(( $(date +%s%N) / 1000000 )); }
