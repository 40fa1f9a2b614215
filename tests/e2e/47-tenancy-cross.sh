#!/usr/bin/env bash
#   47-tenancy-cross - every RPC method, tried by every kind of operator
#   of one tenant against another tenant's objects, changes nothing there
#   and tells nothing of it. Three tenants: acme, acmex (acme is a prefix
#   of its name) and globex, each with devices, a pre-registered TPM,
#   a profile, an allowlist, attestation verdicts and operators. The
#   actors of each tenant: root admin, subtree admin, operator, viewer,
#   auditor, security officer, and an operator whose last grant was
#   removed. acme attacks acmex, acmex attacks acme, globex attacks acme.
#   For each call: weftctl answers (no usage error), the output holds no
#   id, path, name or tenant of the victim that the request did not
#   carry itself, no count of the victim's objects, and a refusal about
#   a named object reads exactly as for one that does not exist. After
#   all calls the registry (every LMDB table but the audit chains, request
#   ids, replay windows, liveness and counters) is byte for byte what it
#   was, but for the credential serials the actors were issued. A tenant
#   auditor's audit head and verify read its own tenant's chain only.
#   The methods come from weft-coord --list-methods, the table itself: a
#   method without a case below fails the test.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
command -v mdb_dump > /dev/null || fail "mdb_dump missing (make deps installs lmdb-utils)"

TENANTS=(acme acmex globex)
declare -A VICTIM=([acme]=acmex [acmex]=acme [globex]=acme)
declare -A NDEV=([acme]=1 [acmex]=2 [globex]=3)     #   Distinct counts, to see leaks
ACTORS=(admin sub op view aud sec none)

say "three tenants, their places, devices, TPMs, policies and operators"
start_coord
python3 - "$T/tree.json" "${TENANTS[@]}" <<'PY'
import json, sys
nodes = []
for t in sys.argv[2:]:
    nodes += [{"path": t, "level": "enterprise"}, {"path": t + "/site-1", "level": "site"},
              {"path": t + "/site-2", "level": "site"}]
json.dump({"version": 1, "nodes": nodes}, open(sys.argv[1], "w"))
PY
ctl hierarchy import "$T/tree.json" > /dev/null || fail "import"

#   ek FILE: a fresh RSA 2048 EK as a TPM2B_PUBLIC (the EK template)
ek () {
    python3 - "$1" <<'PY'
import os, struct, sys
area = struct.pack(">HHI", 0x0001, 0x000B, 0x000300B2) + struct.pack(">H", 32) + os.urandom(32)
area += struct.pack(">HHHHHI", 0x0006, 128, 0x0043, 0x0010, 2048, 0)
area += struct.pack(">H", 256) + os.urandom(256)
open(sys.argv[1], "wb").write(struct.pack(">H", len(area)) + area)
PY
}
hex_of () { od -An -v -tx1 "$1" | tr -d ' \n'; }
key_hex () { head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n'; }

make_keys r1 r2 r3 t1 t2 s ts
head -c 200000 /dev/urandom > "$T/art.bin"
for t in "${TENANTS[@]}"; do
    for i in $(seq "${NDEV[$t]}"); do
        start_node "dev-$t-$i" --token-file "$(new_token_file --tenant "$t" --path "$t/site-1")"
    done
    ek "$T/$t.ek"
    ctl device preregister "pre-$t" --ek-pub "$T/$t.ek" --tenant "$t" --path "$t/site-2" \
        > /dev/null || fail "pre-register pre-$t"
    printf '{"pcrs": {"8": "%064d"}, "interval_s": 60}' 0 > "$T/$t.profile"
    ctl attest profile set gateway "$T/$t.profile" --tenant "$t" > /dev/null || fail "profile $t"
    printf '%064d  /bin/%s\n' 1 "$t" > "$T/$t.allow"
    ctl attest allowlist set "$T/$t.allow" --tenant "$t" > /dev/null || fail "allowlist $t"
    add () { ctl operator add "$t-$1" --role "$2" "${@:3}" --out "$T/$t-$1.op" > /dev/null \
                 || fail "operator $t-$1"; }
    add admin admin --tenant "$t"
    add sub admin --path "$t/site-1"
    add op operator --tenant "$t"
    add view viewer --tenant "$t"
    add aud auditor --tenant "$t"
    add sec security-officer --tenant "$t"
    add none operator --path "$t/site-1"
    add victim viewer --path "$t/site-2"
    add gone viewer --path "$t/site-2"
    ctl operator grant "$t-none" operator "$t/site-1" --remove > /dev/null || fail "$t-none"
    #   A release root and a release plc-TENANT 1.0 in the repository
    repo="$T/repo-$t"
    art build --repo "$repo" --name "plc-$t" --version 1.0 --types gateway "$T/art.bin" \
        > /dev/null || fail "build plc-$t"
    art root --repo "$repo" --tenant "$t" --expires 365d \
        --root-keys "$(pub r1),$(pub r2),$(pub r3)" --root-threshold 2 \
        --targets-keys "$(pub t1),$(pub t2)" --targets-threshold 2 --snapshot-keys "$(pub s)" \
        --timestamp-keys "$(pub ts)" > /dev/null || fail "root $t"
    art sign --key "$T/r1.key" "$repo/root.1" && art sign --key "$T/r2.key" "$repo/root.1" \
        || fail "sign root $t"
    publish "$repo" "plc-$t=1.0"
    art bundle --repo "$repo" --out "$T/$t.wbd" > /dev/null || fail "bundle $t"
    ctl release root set "$repo/root.1" --tenant "$t" > /dev/null || fail "release root $t"
    ctl artifact add "$T/$t.wbd" --tenant "$t" > /dev/null || fail "artifact $t"
    ctl operator grant "$t-gone" viewer "$t/site-2" --remove > /dev/null || fail "$t-gone"
done
wait_for '[[ "$(online_count)" == 6 ]]' 30 || fail "the devices did not come online"
for t in "${TENANTS[@]}"; do
    for i in $(seq "${NDEV[$t]}"); do stop_proc "dev-$t-$i"; done
done

say "attestation verdicts: acme 1, acmex 2, globex 3 (written into the store)"
stop_proc coord
: > "$T/verdicts.txt"
for t in "${TENANTS[@]}"; do
    for i in $(seq "${NDEV[$t]}"); do
        printf 'verdict/dev-%s-%s\n{"device":"dev-%s-%s","event":-1,"ok":false,"pcr":8,"reason":"PCR 8 of %s","time":1,"time_ms":1000}\n' \
            "$t" "$i" "$t" "$i" "$t" >> "$T/verdicts.txt"
    done
done
mdb_load -T -s attest -f "$T/verdicts.txt" "$COORD_DIR/db" || fail "mdb_load verdicts"
#   And a campaign of each tenant over its first device (as
#   campaign.create stores one: campaign.h)
: > "$T/campaigns.txt"
for t in "${TENANTS[@]}"; do
    printf 'c/campaign-%s\n{"id":"campaign-%s","state":"created","tenants":["%s"],"query":"tenant=%s","name":"plc","version":"1.0","waves":["100%%"],"sizes":[1],"threshold":"1","threshold_devices":1,"timeout_s":3600,"wave":-1,"devices":1,"skipped":0,"by":"%s-admin","created_ms":1000,"updated_ms":1000}\n' \
        "$t" "$t" "$t" "$t" "$t" >> "$T/campaigns.txt"
    printf 'd/campaign-%s/dev-%s-1\n{"wave":0,"state":"pending","tenant":"%s","type":"gateway","path":"%s"}\n' \
        "$t" "$t" "$t" "$t" >> "$T/campaigns.txt"
    printf 'x/dev-%s-1\ncampaign-%s\n' "$t" "$t" >> "$T/campaigns.txt"
done
mdb_load -T -s campaigns -f "$T/campaigns.txt" "$COORD_DIR/db" || fail "mdb_load campaigns"
start_coord

#   What each tenant holds, as strings that must not reach another's
#   actors unless they named it themselves
declare -A SECRETS=()
for t in "${TENANTS[@]}"; do
    s="$t $t/site-1 $t/site-2 pre-$t $t-victim $t-gone campaign-$t"
    for a in "${ACTORS[@]}"; do s="$s $t-$a"; done
    for i in $(seq "${NDEV[$t]}"); do s="$s dev-$t-$i"; done
    s="$s plc-$t"
    SECRETS[$t]=$s
done

#   The registry as it stands: every table but those that record the
#   calls themselves (audit, audit_tenant, rpc_ids, rpc_expiry),
#   liveness (replay, last_seen) and counters (meta); msgpack records
#   decoded in full, credential serials masked (registry-dump.py)
registry_dump () {
    mdb_dump -a "$COORD_DIR/db" | python3 "$(dirname "$0")/registry-dump.py" \
        --skip audit --skip audit_tenant --skip rpc_ids --skip rpc_expiry \
        --skip replay --skip last_seen --skip meta
}
registry_dump > "$T/before.dump"
grep -q "^database=tpm_ek" "$T/before.dump" || fail "the dump holds no tpm_ek table"

#   --- The calls ------------------------------------------------------
#   Each call leaves its answer in $T/calls/TENANT-N (and the answer
#   about a missing object in TENANT-N.missing); tenancy-check.py
#   checks them all at the end, in one process.

mkdir -p "$T/calls"
#   try ACTOR METHOD JSON [JSON-AS-MISSING [FIELD MAX]]: call and keep
#   the answer; FIELD, if given, is a count that must not exceed MAX.
#   The same call about a missing object is made for some actors only:
#   which answer comes first depends on the role, not on the actor.
try () {
    local actor=$1 method=$2 args=$3 missing=${4:-} file
    CALLS=$((CALLS + 1))
    file="$T/calls/$OWN_T-$CALLS"
    WEFT_IDENTITY="$T/$actor.op" "$CTL" --timeout 5 call "$method" "$args" > "$file.out" 2>&1
    printf '%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n' "$?" "$OWN_T" "$actor" "$method" "$args" \
        "${TARGET:-}" "${5:-}" "${6:-}" > "$file.meta"
    if [[ -n "$missing" && " admin view sec none " == *" ${actor##*-} "* ]]; then
        WEFT_IDENTITY="$T/$actor.op" "$CTL" --timeout 5 call "$method" "$missing" \
            > "$file.missing" 2>&1
    fi
    return 0                    #   Answers are judged at the end
}

#   count METHOD JSON FIELD MAX: as try, FIELD of the answer at most MAX
count () {
    try "$ACTOR" "$1" "$2" "" "$3" "$4"
}

#   One case per method: what ACTOR (of OWN_T) tries against the victim.
#   $V: victim tenant, $VD: a victim device, $VP: a victim place.
case_token_create () {
    try "$ACTOR" token.create "{\"tenant\": \"$V\"}"
    try "$ACTOR" token.create "{\"path\": \"$VP\", \"type\": \"server\"}"
}
case_device_preregister () {
    ek "$T/fresh-$OWN_T.ek"
    local fresh; fresh=$(hex_of "$T/fresh-$OWN_T.ek")
    try "$ACTOR" device.preregister "{\"id\": \"new-$ACTOR\", \"ek_public\": \"$fresh\", \"tenant\": \"$V\"}"
    try "$ACTOR" device.preregister "{\"id\": \"new-$ACTOR\", \"ek_public\": \"$(hex_of "$T/$V.ek")\"}"
    try "$ACTOR" device.preregister "{\"id\": \"pre-$V\", \"ek_public\": \"$fresh\"}"
}
case_device_list () {
    count device.list "{}" total "${NDEV[$OWN_T]}"
    count device.list "{\"query\": \"tenant=$V or id=$VD or path^=$V/\"}" total 0
}
case_device_count () {
    count device.count "{\"query\": \"tenant=$V or id=$VD\"}" count 0
}
#   by_id METHOD [EXTRA JSON FIELDS]: the victim's device, as a missing one
by_id () {
    TARGET=$VD
    try "$ACTOR" "$1" "{\"id\": \"$VD\"${2:-}}" "{\"id\": \"nope-404\"${2:-}}"
}
case_device_show () { by_id device.show; }
case_device_set () {
    by_id device.set ", \"fw\": \"6.6.6\", \"type\": \"unattested\""
    try "$ACTOR" device.set "{\"id\": \"dev-$OWN_T-1\", \"path\": \"$VP\"}"
}
case_twin_get () { by_id twin.get; }
case_twin_set () { by_id twin.set ", \"patch\": {\"owned\": true}"; }
case_device_revoke () { by_id device.revoke; }
case_batch_twin () {
    count batch.twin "{\"query\": \"tenant=$V or id=$VD\", \"patch\": {\"owned\": 1}}" matched 0
}
case_batch_tag () {
    count batch.tag "{\"query\": \"tenant=$V or id=$VD\", \"tags\": {\"owned\": \"1\"}}" matched 0
}
case_batch_move () {
    count batch.move "{\"query\": \"tenant=$V or id=$VD\", \"path\": \"$OWN_T/site-2\"}" matched 0
    try "$ACTOR" batch.move "{\"query\": \"tenant=$OWN_T\", \"path\": \"$VP\"}"
}
case_hierarchy_import () {
    try "$ACTOR" hierarchy.import "{\"doc\": {\"version\": 1, \"prune\": true, \"nodes\": [{\"path\": \"$V\", \"level\": \"enterprise\"}, {\"path\": \"$V/site-9\", \"level\": \"site\"}]}}"
}
case_hierarchy_export () { try "$ACTOR" hierarchy.export "{}"; }
case_operator_add () {
    try "$ACTOR" operator.add "{\"name\": \"new-$ACTOR\", \"role\": \"viewer\", \"tenant\": \"$V\", \"sign_key\": \"$(key_hex)\", \"curve_key\": \"$(key_hex)\"}"
    try "$ACTOR" operator.add "{\"name\": \"$V-victim\", \"role\": \"viewer\", \"sign_key\": \"$(key_hex)\", \"curve_key\": \"$(key_hex)\"}"
}
case_operator_grant () {
    TARGET="$V-gone"
    try "$ACTOR" operator.grant "{\"name\": \"$V-gone\", \"role\": \"viewer\", \"path\": \"$OWN_T\"}" \
        "{\"name\": \"nope-404\", \"role\": \"viewer\", \"path\": \"$OWN_T\"}"
    TARGET=""
    try "$ACTOR" operator.grant "{\"name\": \"$V-victim\", \"role\": \"viewer\", \"path\": \"$VP\"}"
    try "$ACTOR" operator.grant "{\"name\": \"$OWN_T-victim\", \"role\": \"viewer\", \"path\": \"$VP\"}"
}
case_operator_credential () { try "$ACTOR" operator.credential "{\"ttl\": 60}"; }
case_operator_revoke () {
    TARGET="$V-gone"
    try "$ACTOR" operator.revoke "{\"name\": \"$V-gone\"}" "{\"name\": \"nope-404\"}"
    TARGET=""
    try "$ACTOR" operator.revoke "{\"name\": \"$V-victim\"}"
}
case_audit_list () { try "$ACTOR" audit.list "{\"limit\": 1000}"; }
#   A tenant's auditor proves its own tenant's chain only: the answer
#   names that chain, and its length is no more than what the tenant's
#   chain held before the attacks plus this tenant's calls since (the
#   checker reads the heads from $T/chains.txt)
case_audit_verify () { try "$ACTOR" audit.verify "{}" "" records chain; }
case_audit_head () {
    try "$ACTOR" audit.head "{}" "" seq chain
    try "$ACTOR" audit.head "{\"tenant\": \"$V\"}"
}
case_coord_stats () {
    count coord.stats "{}" devices 0     #   Refused: no counters at all
}
case_attest_profile_set () {
    local profile="{\"pcrs\": {\"9\": \"$(printf '%064d' 9)\"}}"
    try "$ACTOR" attest.profile.set "{\"tenant\": \"$V\", \"type\": \"gateway\", \"profile\": $profile}"
    try "$ACTOR" attest.profile.set "{\"tenant\": \"\", \"type\": \"gateway\", \"profile\": $profile}"
}
case_attest_allowlist_set () {
    try "$ACTOR" attest.allowlist.set "{\"tenant\": \"$V\", \"allowlist\": \"$(printf '%064d' 7)  /bin/evil\\n\"}"
}
case_attest_status () {
    count attest.status "{}" verdicts "${NDEV[$OWN_T]}"
}
case_attest_show () { by_id attest.show; }
#   Campaigns: none of the victim's devices taken into one, however the
#   query names them or the plan reads; the victim's campaign (stored
#   before the attacks) neither seen nor moved
case_campaign_create () {
    try "$ACTOR" campaign.create "{\"query\": \"tenant=$V or id=$VD or path^=$V/\", \"name\": \"plc-$V\", \"version\": \"1.0\", \"waves\": [\"100%\"]}"
    try "$ACTOR" campaign.create "{\"query\": \"tenant=$V or id=$VD\", \"name\": \"plc-$OWN_T\", \"version\": \"1.0\", \"waves\": [\"1\", \"100%\"], \"threshold\": \"1\"}"
    try "$ACTOR" campaign.create "{\"query\": \"tenant=$V\", \"name\": \"plc-$V\", \"version\": \"1.0\", \"waves\": [\"100%\"], \"allow_empty\": true}"
}
by_campaign () {
    TARGET=$VC
    try "$ACTOR" "$1" "{\"id\": \"$VC\"}" "{\"id\": \"nope-404\"}"
}
case_campaign_show () { by_campaign campaign.show; }
case_campaign_list () { try "$ACTOR" campaign.list "{}"; }
case_campaign_start () { by_campaign campaign.start; }
case_campaign_pause () { by_campaign campaign.pause; }
case_campaign_resume () { by_campaign campaign.resume; }
case_campaign_abort () { by_campaign campaign.abort; }
case_campaign_retry () { by_campaign campaign.retry; }
case_campaign_exclude () {
    TARGET=$VC
    try "$ACTOR" campaign.exclude "{\"id\": \"$VC\", \"tenant\": \"$V\"}" \
        "{\"id\": \"nope-404\", \"tenant\": \"$V\"}"
    try "$ACTOR" campaign.exclude "{\"id\": \"$VC\", \"tenant\": \"$OWN_T\"}" \
        "{\"id\": \"nope-404\", \"tenant\": \"$OWN_T\"}"
}
case_campaign_revert () { by_campaign campaign.revert; }
case_attest_clear () { by_id attest.clear; }

case_release_root_set () {
    try "$ACTOR" release.root.set "{\"tenant\": \"$V\", \"root\": \"$(hex_of "$T/repo-$OWN_T/root.1")\"}"
    try "$ACTOR" release.root.set "{\"tenant\": \"$V\", \"root\": \"$(hex_of "$T/repo-$V/root.1")\"}"
}
case_release_root_show () {
    TARGET=$V
    try "$ACTOR" release.root.show "{\"tenant\": \"$V\"}" "{\"tenant\": \"nope-404\"}"
    TARGET=""
}
case_artifact_upload () {
    try "$ACTOR" artifact.upload "{\"tenant\": \"$V\", \"size\": $(stat -c %s "$T/$OWN_T.wbd")}"
}
case_artifact_part () {
    try "$ACTOR" artifact.part "{\"upload\": \"0123456789abcdef\", \"offset\": 0, \"data\": \"00\"}"
}
case_artifact_list () {
    try "$ACTOR" artifact.list "{\"tenant\": \"$V\"}"
    try "$ACTOR" artifact.list "{\"tenant\": \"$V\", \"name\": \"plc-$V\"}"
}
#   by_release METHOD: the victim's release, as a missing one
by_release () {
    TARGET="plc-$V"
    try "$ACTOR" "$1" "{\"tenant\": \"$V\", \"name\": \"plc-$V\", \"version\": \"1.0\"}" \
        "{\"tenant\": \"$V\", \"name\": \"nope-404\", \"version\": \"1.0\"}"
    TARGET=""
}
case_artifact_show () { by_release artifact.show; }
case_artifact_remove () { by_release artifact.remove; }
case_update_assign () {
    by_id update.assign ", \"name\": \"plc-$OWN_T\", \"version\": \"1.0\""
    TARGET=""
    try "$ACTOR" update.assign "{\"query\": \"tenant=$V or id=$VD\", \"name\": \"plc-$V\", \"version\": \"1.0\"}"
    try "$ACTOR" update.assign "{\"id\": \"dev-$OWN_T-1\", \"name\": \"plc-$V\", \"version\": \"1.0\"}"
}
case_update_status () {
    by_id update.status
    TARGET=""
    try "$ACTOR" update.status "{\"query\": \"tenant=$V or id=$VD\"}"
}
case_update_uninstall () {
    by_id update.uninstall ", \"name\": \"plc-$V\""
    TARGET=""
    try "$ACTOR" update.uninstall "{\"query\": \"tenant=$V or id=$VD\", \"name\": \"plc-$V\"}"
}
#   An end within the coordinator's limit (ten years), so only the
#   devices can be why a grant is refused
case_entitlement_grant () {
    local until=$(( $(date +%s) * 1000 + 86400000 ))
    by_id entitlement.grant ", \"name\": \"plc-$V\", \"until\": $until"
    TARGET=""
    try "$ACTOR" entitlement.grant "{\"query\": \"tenant=$V or id=$VD\", \"name\": \"plc-$V\", \"until\": $until}"
}

say "every method of the table has a case"
METHODS=$("$COORD" --list-methods | cut -f1)
[[ $(wc -l <<< "$METHODS") -ge 20 ]] || fail "weft-coord --list-methods: $METHODS"
for m in $METHODS; do
    declare -F "case_${m//./_}" > /dev/null || fail "no cross-tenant case for method $m"
done

#   Each tenant's audit chain before the attacks, for the checker
for t in "${TENANTS[@]}"; do
    echo "$t $(ctl call audit.head "{\"tenant\": \"$t\"}" | jget seq)"
done > "$T/chains.txt"
grep -q "^acme [0-9][0-9]*$" "$T/chains.txt" || fail "no audit head for acme: $(cat "$T/chains.txt")"

#   attack OWN_T: every actor of OWN_T, every method; one tenant per
#   process, the three at once
attack () {
    OWN_T=$1
    V=${VICTIM[$OWN_T]}
    VD="dev-$V-1"
    VC="campaign-$V"
    VP="$V/site-1"
    CALLS=0
    for a in "${ACTORS[@]}"; do
        ACTOR="$OWN_T-$a"
        for m in $METHODS; do
            TARGET=""
            "case_${m//./_}"
        done
    done
}
ATTACKS=()
for t in "${TENANTS[@]}"; do
    say "$t's operators against ${VICTIM[$t]}'s objects"
    attack "$t" &
    ATTACKS+=($!)
done
for pid in "${ATTACKS[@]}"; do
    wait "$pid" || fail "an attacking tenant's run failed"
done
for t in "${TENANTS[@]}"; do
    echo "$t ${SECRETS[$t]}"
done > "$T/secrets.txt"
python3 "$(dirname "$0")/tenancy-check.py" "$T/calls" "$T/secrets.txt" "$T/chains.txt" \
    || fail "an answer told one tenant of another (see above)"

say "the registry is what it was"
registry_dump > "$T/after.dump"
if ! cmp -s "$T/before.dump" "$T/after.dump"; then
    diff "$T/before.dump" "$T/after.dump" | head -20
    fail "the registry changed"
fi
say "ok"
