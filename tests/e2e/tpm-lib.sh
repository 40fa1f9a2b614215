#   tpm-lib.sh - one swtpm for a test (swtpm-lib.sh: more with new_tpm),
#   stopped on exit with the test's processes. Source after lib.sh. Sets
#   TCTI (for --tpm) and LOG (the TCG event log the test's "boot"
#   writes); measure PCR:TEXT appends an event and extends the PCR, as
#   firmware would; replay_log FILE extends the TPM's PCRs as FILE says;
#   ima_measure FILE appends to the IMA list $IMA and extends PCR 10.
source "$(dirname "${BASH_SOURCE[0]}")/swtpm-lib.sh"
#   SWTPM_OPTS: options of tests/tpm/swtpm.sh start (e.g. --locality 3)
# shellcheck disable=SC2086
new_tpm THE ${SWTPM_OPTS:-}
TCTI=$THE_TCTI
LOG="$T/boot.log"

measure () {
    "$NODE" --data-dir "$T/measure" --tpm "$TCTI" --event-log "$LOG" --measure "$1" \
        >> "$T/measure.log" 2>&1 || fail "--measure $1 failed: $(tail -3 "$T/measure.log")"
}

#   ima_measure FILE [LISTED_PATH]: append FILE's entry (as LISTED_PATH)
#   to the IMA list $IMA and extend its template hash into PCR 10, as IMA
#   does. The node must be stopped: swtpm serves one client at a time.
ima_measure () {
    local hash
    hash=$(python3 - "$IMA" "$1" "${2:-$1}" <<'PY'
import hashlib, struct, sys
listing, path, listed = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(path, "rb").read() if path != "boot_aggregate" else b"boot"
digest = hashlib.sha256(data).digest()
d_ng = b"sha256:\0" + digest
n_ng = listed.encode() + b"\0"
template = hashlib.sha256(struct.pack("<I", len(d_ng)) + d_ng
                          + struct.pack("<I", len(n_ng)) + n_ng).hexdigest()
with open(listing, "a") as out:
    out.write("10 %s ima-ng sha256:%s %s\n" % (template, digest.hex(), listed))
print(template)
PY
) || fail "cannot measure $1"
    tpm2_pcrextend -T "$TCTI" "10:sha256=$hash" || fail "tpm2_pcrextend failed"
}

#   The coordinator with acme's attestation profile FILE for gateways, and
#   gw-a pre-registered in acme by the EK of this test's swtpm; sets
#   COORD_KEY for --coord-key. Usage: coord_with_gw_a FILE
coord_with_gw_a () {
    start_coord
    COORD_KEY=$(keyfile_value "$WEFT_IDENTITY" coord_curve)
    ctl attest profile set gateway "$1" --tenant acme > /dev/null \
        || fail "attest profile set failed"
    "$NODE" --data-dir "$T/ek" --tpm "$TCTI" --write-ek "$T/a.ek" > "$T/ek.log" 2>&1 \
        || fail "--write-ek failed"
    ctl device preregister gw-a --ek-pub "$T/a.ek" --tenant acme > /dev/null \
        || fail "preregister failed"
}

#   The site server "server" of tenant acme enrolled by token (type
#   server), and stopped, to be started as the test needs it
enrol_site_server () {
    start_node server --token-file "$(new_token_file --tenant acme --type server)" \
        --type server --no-coordinator
    wait_for "grep -q '^cert=' '$T/server/node.key'" 20 || fail "server did not enrol"
    stop_proc server
}

#   gw-a (run as box-a, with this test's TPM and event log) behind the
#   site server at $SERVER_EP only
start_gw_behind_server () {
    start_node box-a --tpm "$TCTI" --coord-key "$COORD_KEY" --event-log "$LOG" \
        --no-coordinator --neighbour "$(curve server)@$SERVER_EP"
}

#   Has gw-a applied twin rate $1 (box-a.applied.json) and reported it?
gw_synced () {
    [[ "$(jget rate < "$T/box-a.applied.json")" == "$1" ]] || return 1
    [[ "$(ctl --json twin get gw-a | jget reported.rate)" == "$1" ]]
}

replay_log () {
    python3 - "$1" "${TCTI##*port=}" <<'PY' || fail "replaying $1 into the TPM failed"
import socket, struct, sys
log = open(sys.argv[1], "rb").read()
size = struct.unpack_from("<I", log, 28)[0]
spec, at = log[32:32 + size], 32 + size
sizes = {}
for i in range(struct.unpack_from("<I", spec, 24)[0]):
    alg, n = struct.unpack_from("<HH", spec, 28 + 4 * i)
    sizes[alg] = n
tpm = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=5)
while at < len(log) and log[at:].strip(b"\0"):
    pcr, kind, count = struct.unpack_from("<III", log, at)
    at += 12
    digests = {}
    for _ in range(count):
        alg = struct.unpack_from("<H", log, at)[0]
        digests[alg] = log[at + 2:at + 2 + sizes[alg]]
        at += 2 + sizes[alg]
    at += 4 + struct.unpack_from("<I", log, at)[0]
    if kind == 3:                           # EV_NO_ACTION: never extended
        continue
    # TPM2_PCR_Extend(pcr, password session, sha256 digest)
    body = struct.pack(">I", pcr) + struct.pack(">I", 9) + struct.pack(">IHBH", 0x40000009, 0, 0, 0)
    body += struct.pack(">IH", 1, 0x000b) + digests[0x000b]
    command = struct.pack(">HII", 0x8002, 10 + len(body), 0x182) + body
    tpm.sendall(command)
    reply = tpm.recv(64)
    if reply[6:10] != bytes(4):
        sys.exit("PCR_Extend of PCR %d: TPM rc %s" % (pcr, reply[6:10].hex()))
PY
}
