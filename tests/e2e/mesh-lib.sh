#   mesh-lib.sh - helpers of the mesh scenarios (2x-mesh-*.sh), sourced
#   after lib.sh: enrol nodes once, then run them with mesh options.

#   A node's CURVE public key (hex), once enrolled.
curve () { keyfile_value "$T/$1/node.key" curve_public; }

#   Hops the coordinator saw on a device's last envelope.
hops () { ctl --json device show "$1" | jget hops; }

#   A mesh counter from the node's last NODE_STATS: mesh_stat NAME PATH
mesh_stat () { ctl --json device show "$1" | jget "mesh.$2"; }

#   Enrol every named node directly (in parallel), then stop them: their
#   keys exist afterwards, so the mesh can be wired. enrol_nodes NAME...
enrol_nodes () {
    local name
    for name in "$@"; do
        start_node "$name" --token-file "$(new_token_file)" --no-coordinator
    done
    for name in "$@"; do
        wait_for "grep -q '^cert=' '$T/$name/node.key'" 20 || fail "$name did not enrol"
    done
    for name in "$@"; do
        stop_proc "$name"
    done
}

#   Every desired version the node applied, in order, is newer than the
#   one before: no version twice, none out of order. applied_in_order NAME
applied_in_order () {
    grep -o 'applied desired version [0-9]*' "$T/$1.log" | awk '{print $4}' > "$T/$1.applied"
    sort -n -c "$T/$1.applied" 2>/dev/null || return 1
    [[ "$(sort -n "$T/$1.applied" | uniq -d | wc -l)" == 0 ]]
}
