#   update-lib.sh - a device gw-1 of tenant acme with a pinned release
#   root, and bundles assigning it releases, for the install scenarios
#   (86-89). Source after lib.sh and artifact-lib.sh; works in $T.
INST="$T/inst"

#   gw_run ARGS... : weft-node gw-1 (enrolled) in the background,
#   installing under $INST
gw_run () {
    start_node gw-1 --install-dir "$INST" "$@"
}

#   software KEY : reported.software.KEY of gw-1 as the coordinator has it
software () {
    ctl --json twin get gw-1 | jget "reported.software.$1"
}

#   software_is STATE VERSION : reported.software of gw-1 is in STATE for
#   VERSION, both read from one twin (two reads could mix an earlier
#   attempt's state with a new attempt's version)
software_is () {
    local twin
    twin=$(ctl --json twin get gw-1) || return 1
    [[ "$(jget reported.software.state <<<"$twin")" == "$1"
       && "$(jget reported.software.version <<<"$twin")" == "$2" ]]
}

#   bundle_for VERSION [NAME] : an assignment of NAME (plc) VERSION to
#   gw-1 by the coordinator, and a bundle vVERSION.wbd carrying it
bundle_for () {
    "$PROBE" assign "$COORD_DIR/coord.key" gw-1 acme "repo/manifests/${2:-plc}_$1" 3600 \
        "assign-$1" || fail "assign $1"
    art bundle --repo repo --out "v$1.wbd" "assign-$1" > /dev/null || fail "bundle $1"
}

#   release_of NAME HANDLER VERSION ANTI-ROLLBACK FILE : FILE built as
#   NAME VERSION for gateways, published alone, and bundled for gw-1
#   (vVERSION.wbd)
release_of () {
    art build --repo repo --name "$1" --version "$3" --types gateway --handler "$2" \
        --anti-rollback "$4" "$5" > /dev/null || fail "build $1 $3"
    publish repo "$1=$3"
    bundle_for "$3" "$1"
}

#   gw_setup : the coordinator, gw-1 enrolled in acme, the publisher's
#   keys and a root of acme pinned at gw-1 (stopped)
gw_setup () {
    start_coord
    import_tree acme
    start_node gw-1 --token-file "$(new_token_file --tenant acme)"
    wait_for 'is_online gw-1' 20 || fail "gw-1 did not come online"
    stop_proc gw-1
    make_keys r1 r2 r3 t1 t2 s ts
    new_root repo r1 r2 r3
    art sign --key r1.key repo/root.1 && art sign --key r2.key repo/root.1 || fail "sign root"
    cp repo/root.1 "$T/gw-1/release-root"
}

#   gw_exited : gw-1 exited by itself; its exit status in GW_EXIT
gw_exited () {
    local pid=${PID_OF[gw-1]}
    wait_for "! kill -0 $pid" 20 || return 1
    GW_EXIT=0
    wait "$pid" || GW_EXIT=$?
    unset "PID_OF[gw-1]"
}
