#   artifact-lib.sh - a publisher's keys and release repository for the
#   weft-artifact scenarios (80-89). Source after lib.sh; works in $T.
ART="$WEFT_BUILD/weft-artifact"
[[ -x "$ART" ]] || fail "$ART is missing (build first)"

art () { "$ART" "$@"; }
pub () { cat "$T/$1.pub"; }

#   refused PATTERN COMMAND... : exits 1 and says PATTERN
refused () {
    local pattern=$1 out rc; shift
    out=$("$@" 2>&1); rc=$?
    (( rc == 1 )) || fail "'$*' exited $rc, not 1: $out"
    grep -q -- "$pattern" <<<"$out" || fail "'$*' did not say '$pattern': $out"
}

#   flip_byte FILE OFFSET : the byte at OFFSET changed, whatever it was
#   (writing a fixed byte leaves the file intact when it already held it)
flip_byte () {
    local byte
    byte=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf %03o $(( (byte + 1) % 256 )))" \
        | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

#   make_keys NAME... : a release key each, made apart
make_keys () {
    local k
    for k in "$@"; do
        art keygen --out "$T/$k.key" > "$T/$k.pub" || fail "keygen $k"
    done
}

#   new_root REPO ROOT_KEYS... [-- OPTIONS...] : a root of the tenant acme
#   naming the root keys given (threshold 2), targets t1,t2 (2), snapshot
#   s, timestamp ts, and weft-artifact root's OPTIONS; written unsigned
new_root () {
    local repo=$1 keys="" k; shift
    while (( $# )) && [[ "$1" != -- ]]; do keys+="${keys:+,}$(pub "$1")"; shift; done
    (( $# )) && shift
    art root --repo "$repo" --tenant acme --expires 365d --root-keys "$keys" \
        --root-threshold 2 --targets-keys "$(pub t1),$(pub t2)" --targets-threshold 2 \
        --snapshot-keys "$(pub s)" --timestamp-keys "$(pub ts)" "$@" > /dev/null || fail "root"
}

#   name_targets REPO [VERSION] : snapshot and timestamp naming the
#   targets as they are, signed
name_targets () {
    local repo=$1 version=${2:+--version $2}
    art snapshot --repo "$repo" $version --expires 7d > /dev/null \
        && art sign --key "$T/s.key" "$repo/snapshot" \
        && art timestamp --repo "$repo" $version --expires 1d > /dev/null \
        && art sign --key "$T/ts.key" "$repo/timestamp" || fail "snapshot, timestamp"
}

#   publish REPO NAME=VERSION... : targets signed by t1 and t2, named
publish () {
    local repo=$1; shift
    art targets --repo "$repo" --expires 30d "$@" > /dev/null \
        && art sign --key "$T/t1.key" "$repo/targets" \
        && art sign --key "$T/t2.key" "$repo/targets" || fail "targets $*"
    name_targets "$repo"
}

#   plc_release BYTES : the publisher's keys, a root of acme (signed by
#   r1 and r2), plc 1.0 for gateways of BYTES random bytes published,
#   bundled into site.wbd
plc_release () {
    make_keys r1 r2 r3 t1 t2 s ts
    head -c "$1" /dev/urandom > v1.bin
    art build --repo repo --name plc --version 1.0 --types gateway v1.bin > /dev/null \
        || fail "build"
    new_root repo r1 r2 r3
    art sign --key r1.key repo/root.1 && art sign --key r2.key repo/root.1 || fail "sign root"
    publish repo plc=1.0
    art bundle --repo repo --out site.wbd > /dev/null || fail "bundle"
}

#   plc_coord : the coordinator with tenants acme and globex, acme's admin
#   olga and operator otto, globex's operator gus, and site.wbd in
#   acme's repository
plc_coord () {
    start_coord
    import_tree acme globex
    add_op olga --role admin --tenant acme
    add_op otto --role operator --tenant acme
    add_op gus --role operator --tenant globex
    as_op olga release root set repo/root.1 > /dev/null || fail "set root"
    as_op olga artifact add site.wbd > /dev/null || fail "artifact add"
}

#   site_release MB BUNDLE : acme's publisher makes plc 1.0 for gateways
#   (MB MB of random bytes in v1.bin, repository repo, release keys
#   r1..r3, t1, t2, s, ts) and bundles it as BUNDLE; then a coordinator
#   starts with acme's tree, admin olga, operator otto, acme's release
#   root and BUNDLE uploaded
site_release () {
    make_keys r1 r2 r3 t1 t2 s ts
    head -c $(($1 * 1000000)) /dev/urandom > v1.bin
    art build --repo repo --name plc --version 1.0 --types gateway --handler file v1.bin \
        > /dev/null || fail "build"
    new_root repo r1 r2 r3
    art sign --key r1.key repo/root.1 && art sign --key r2.key repo/root.1 || fail "sign root"
    publish repo plc=1.0
    art bundle --repo repo --out "$2" > /dev/null || fail "bundle"
    start_coord
    import_tree acme
    add_op olga --role admin --tenant acme
    add_op otto --role operator --tenant acme
    as_op olga release root set repo/root.1 > /dev/null || fail "set root"
    as_op olga artifact add "$2" > /dev/null || fail "artifact add"
}
