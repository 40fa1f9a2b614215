#!/usr/bin/env bash
#   19-key-files - the key files the programs write are the ones
#   docs/protocol.md section 7 describes: for node.key (before and after
#   enrolment), ca.key, coord.key and both kinds of operator identity
#   file, every entry written is in the file's table and every entry of
#   the table is written (those written only in some cases aside), each
#   hex(N) value is N bytes of lower-case hex, and the mode is 0600.
source "$(dirname "$0")/lib.sh"
DOC="$E2E_ROOT/docs/protocol.md"

#   Rows of the table after "<!-- keyfile: NAME -->": "entry value-cell"
doc_rows () {
    awk -v marker="<!-- keyfile: $1 -->" '
        $0 == marker { inside = 1; next }
        inside && /^\|/ { rows++; if (rows > 2) print; next }
        inside && rows > 0 { exit }'  "$DOC"
}

#   check_file NAME FILE [OPTIONAL_ENTRIES...]
check_file () {
    local name=$1 file=$2; shift 2
    local optional=" $* " rows entry value want cell
    [[ -f "$file" ]] || fail "$file was not written"
    [[ "$(stat -c %a "$file")" == 600 ]] || fail "$file has mode $(stat -c %a "$file"), not 600"
    rows=$(doc_rows "$name")
    [[ -n "$rows" ]] || fail "docs/protocol.md has no table marked 'keyfile: $name'"
    #   Every entry written is documented, with the documented size
    while IFS= read -r line; do
        [[ -z "$line" || "$line" == \#* ]] && continue
        entry=${line%%=*}
        value=${line#*=}
        cell=$(echo "$rows" | awk -F'|' -v e="\`$entry\`" '{ gsub(/^ +| +$/, "", $2) } $2 == e { print $3 }')
        [[ -n "$cell" ]] || fail "$file holds '$entry', which the '$name' table of docs/protocol.md lacks"
        if [[ "$cell" =~ hex\(([0-9]+)\) ]]; then
            want=$(( BASH_REMATCH[1] * 2 ))
            [[ "$value" =~ ^[0-9a-f]+$ && ${#value} == "$want" ]] \
                || fail "$file: $entry is not hex(${BASH_REMATCH[1]}): ${#value} characters"
        elif [[ "$cell" == " hex"* ]]; then
            [[ "$value" =~ ^([0-9a-f][0-9a-f])+$ ]] || fail "$file: $entry is not lower-case hex"
        fi
    done < "$file"
    #   Every documented entry is written (but the optional ones)
    for entry in $(echo "$rows" | awk -F'|' '{ gsub(/[ `]/, "", $2); print $2 }'); do
        [[ "$optional" == *" $entry "* ]] && continue
        grep -q "^$entry=" "$file" || fail "$file lacks '$entry', which docs/protocol.md lists"
    done
    say "$name: $(grep -c = "$file") entries as documented"
}

start_coord
check_file ca.key "$COORD_DIR/ca.key"
check_file coord.key "$COORD_DIR/coord.key"
check_file operator "$COORD_DIR/admin.op"

say "a node's identity before its enrolment, then after it"
unknown=$(token_file "wt1.0011223344556677.00112233445566778899aabbccddeeff.$(keyfile_value "$WEFT_IDENTITY" coord_curve)")
"$NODE" --data-dir "$T/n1" --name n1 --coordinator "$MESH_EP" --enrol-endpoint "$ENROL_EP" \
    --token-file "$unknown" > "$T/refused.log" 2>&1 && fail "a node enrolled with an unknown token"
check_file node.key "$T/n1/node.key" ak_blob tenant cert ca_key coord_cert
start_node n1 --token-file "$(new_token_file)"
wait_for 'is_online n1' 20 || fail "n1 did not come online"
check_file node.key "$T/n1/node.key" ak_blob
[[ "$(stat -c %a "$T/n1")" == 700 ]] || fail "the data directory has mode $(stat -c %a "$T/n1")"

say "an operator identity made by weftctl operator add, then its credential"
ctl operator add olga --role viewer --tenant acme --out "$T/olga.op" > /dev/null \
    || fail "operator add"
check_file operator "$T/olga.op"
WEFT_IDENTITY="$T/olga.op" ctl operator credential > /dev/null || fail "operator credential"
check_file operator "$T/olga.op"
say "ok"
