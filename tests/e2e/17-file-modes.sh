#!/usr/bin/env bash
#   17-file-modes - under umask 022 everything Weft writes that holds
#   state is its owner's alone: the data directories (0700) of weft-coord
#   and weft-node with their keys and LMDB files (0600), the applied twin
#   (0600, also when an older copy was 0644), the identity files weftctl
#   writes. A data directory, database directory or database file that
#   already exists with wider modes is refused with the chmod that fixes
#   it, and left as it was.
source "$(dirname "$0")/lib.sh"
umask 022

#   Paths under DIR (itself included) that group or others may use
open_paths () { find "$1" -perm /077 2>/dev/null; }

say "the coordinator's data directory, keys and database"
start_coord
[[ "$(stat -c %a "$COORD_DIR")" == 700 ]] || fail "coordinator dir mode $(stat -c %a "$COORD_DIR")"
for f in ca.key coord.key admin.op db/data.mdb db/lock.mdb; do
    [[ "$(stat -c %a "$COORD_DIR/$f")" == 600 ]] \
        || fail "$f has mode $(stat -c %a "$COORD_DIR/$f")"
done
[[ -z "$(open_paths "$COORD_DIR")" ]] || fail "open to others: $(open_paths "$COORD_DIR")"

say "a node's data directory, identity, database and applied twin"
echo '{"old": true}' > "$T/n1.applied.json"
[[ "$(stat -c %a "$T/n1.applied.json")" == 644 ]] || fail "umask 022 is not in force"
start_node n1 --token-file "$(new_token_file)"
wait_for 'is_online n1' 20 || fail "n1 did not come online"
ctl twin set n1 '{"rate": 5}' > /dev/null || fail "twin set"
wait_for 'twin_synced n1 rate 5' 20 || fail "n1 did not apply its twin"
[[ "$(stat -c %a "$T/n1.applied.json")" == 600 ]] \
    || fail "the applied twin has mode $(stat -c %a "$T/n1.applied.json")"
[[ "$(stat -c %a "$T/n1")" == 700 ]] || fail "node dir mode $(stat -c %a "$T/n1")"
[[ -z "$(open_paths "$T/n1")" ]] || fail "open to others: $(open_paths "$T/n1")"

say "identity files weftctl writes"
ctl operator add vera --role viewer --out "$T/vera.op" > /dev/null || fail "operator add"
[[ "$(stat -c %a "$T/vera.op")" == 600 ]] || fail "vera.op mode $(stat -c %a "$T/vera.op")"
WEFT_IDENTITY="$T/vera.op" ctl operator credential > /dev/null || fail "operator credential"
[[ "$(stat -c %a "$T/vera.op")" == 600 ]] || fail "vera.op after credential"
ls "$T"/vera.op.tmp* > /dev/null 2>&1 && fail "a temporary identity file was left"

say "a node's pre-made data directory of mode 0755 is refused and left alone"
mkdir "$T/n2"
out=$(run_node n2 --token-file "$(new_token_file)"); rc=$?
(( rc == 1 )) || fail "node on a 0755 dir: expected exit 1, got $rc ($out)"
echo "$out" | grep -q "$T/n2 has mode 0755.*chmod 700 $T/n2" || fail "node on a 0755 dir: $out"
[[ "$(stat -c %a "$T/n2")" == 755 && ! -e "$T/n2/node.key" ]] || fail "the 0755 dir was used"
chmod 700 "$T/n2"
start_node n2 --token-file "$(new_token_file)"
wait_for 'is_online n2' 20 || fail "n2 did not start once its dir was 0700"

say "a coordinator's pre-made data directory of mode 0755 is refused"
mkdir "$T/coord-open"
out=$(timeout 20 "$COORD" --data-dir "$T/coord-open" --bind 127.0.0.1 --mesh-port "$(free_port)" \
      --enrol-port "$(free_port)" --rpc-port "$(free_port)" 2>&1); rc=$?
(( rc == 1 )) || fail "coordinator on a 0755 dir: expected exit 1, got $rc ($out)"
echo "$out" | grep -q "refusing the data directory: $T/coord-open has mode 0755" \
    || fail "coordinator on a 0755 dir: $out"
[[ -z "$(ls -A "$T/coord-open")" ]] || fail "the coordinator wrote into the 0755 dir"

say "a restored database others can read is refused"
stop_proc n2
chmod 755 "$T/n2/db"
out=$(run_node n2); rc=$?
(( rc == 1 )) && echo "$out" | grep -q "$T/n2/db has mode 0755" || fail "0755 db dir: $rc $out"
chmod 700 "$T/n2/db" && chmod 644 "$T/n2/db/data.mdb"
out=$(run_node n2); rc=$?
(( rc == 1 )) && echo "$out" | grep -q "data.mdb has mode 0644.*chmod 600" \
    || fail "0644 data.mdb: $rc $out"
stop_proc coord
chmod 644 "$COORD_DIR/db/lock.mdb"
out=$(timeout 20 "$COORD" --data-dir "$COORD_DIR" --bind 127.0.0.1 --mesh-port "$MESH_PORT" \
      --enrol-port "$ENROL_PORT" --rpc-port "$RPC_PORT" 2>&1); rc=$?
(( rc == 1 )) && echo "$out" | grep -q "lock.mdb has mode 0644" || fail "0644 lock.mdb: $rc $out"
chmod 600 "$COORD_DIR/db/lock.mdb"
start_coord
say "ok"
