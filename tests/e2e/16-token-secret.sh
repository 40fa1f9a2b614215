#!/usr/bin/env bash
#   16-token-secret - an enrolment token never reaches a command line,
#   where any local user reads it (/proc/PID/cmdline): weft-node refuses
#   --token VALUE and names the alternatives; it takes the token from a
#   file of mode 0600 (refusing one others can read), from standard
#   input, or from WEFT_TOKEN, which it wipes so that neither
#   /proc/PID/environ nor its apply command shows it; weftctl writes a
#   new token into a 0600 file with --out.
source "$(dirname "$0")/lib.sh"
umask 022
start_coord

#   Does the process's command line or environment hold the text?
in_proc () {
    local pid=$1 text=$2
    tr '\0' '\n' < "/proc/$pid/cmdline" | grep -qF -- "$text" && return 0
    tr '\0' '\n' < "/proc/$pid/environ" | grep -qF -- "$text"
}

say "weftctl token create --out: a 0600 file, nothing on stdout"
out=$(ctl token create --out "$T/t1.token" 2> "$T/t1.err") || fail "token create --out"
[[ -z "$out" ]] || fail "the token went to stdout too: $out"
grep -q "written to $T/t1.token" "$T/t1.err" || fail "no word of the file: $(cat "$T/t1.err")"
[[ "$(stat -c %a "$T/t1.token")" == 600 ]] || fail "token file mode $(stat -c %a "$T/t1.token")"
TOKEN1=$(cat "$T/t1.token")
[[ "$TOKEN1" == wt1.* ]] || fail "the file holds no token: $TOKEN1"
out=$(ctl token create --out "$T/t1.token" 2>&1); rc=$?
(( rc == 2 )) || fail "an existing --out file: expected exit 2, got $rc ($out)"
echo "$out" | grep -q "already exists" || fail "existing --out: $out"
[[ "$(cat "$T/t1.token")" == "$TOKEN1" ]] || fail "the token file was overwritten"

say "--token VALUE is refused, naming the alternatives; nothing is enrolled"
out=$(run_node r1 --token "$TOKEN1"); rc=$?
(( rc == 2 )) || fail "--token: expected exit 2, got $rc ($out)"
for word in "--token-file" "WEFT_TOKEN" "/proc/PID/cmdline"; do
    echo "$out" | grep -qF -- "$word" || fail "the refusal does not name $word: $out"
done
[[ -e "$T/r1/node.key" ]] && fail "weft-node went on after refusing --token"

say "a token file others can read is refused"
cp "$T/t1.token" "$T/open.token" && chmod 644 "$T/open.token"
out=$(run_node r2 --token-file "$T/open.token"); rc=$?
(( rc == 2 )) || fail "a 0644 token file: expected exit 2, got $rc ($out)"
echo "$out" | grep -q "mode 0644.*chmod 600" || fail "0644 token file: $out"

say "the token from a file: the running node's command line holds only the path"
start_node n1 --token-file "$T/t1.token"
wait_for 'is_online n1' 20 || fail "n1 did not enrol from its token file"
in_proc "${PID_OF[n1]}" "$TOKEN1" && fail "n1's command line or environment holds the token"
tr '\0' ' ' < "/proc/${PID_OF[n1]}/cmdline" | grep -qF -- "--token-file $T/t1.token" \
    || fail "n1 was not started as expected: $(tr '\0' ' ' < "/proc/${PID_OF[n1]}/cmdline")"

say "the token on standard input"
new_token > "$T/t2.token"
# shellcheck disable=SC2046
"$NODE" $(node_args n2) --token-file - < "$T/t2.token" >> "$T/n2.log" 2>&1 &
PID_OF[n2]=$!
wait_for 'is_online n2' 20 || fail "n2 did not enrol from standard input"
in_proc "${PID_OF[n2]}" "$(cat "$T/t2.token")" && fail "n2 shows its token"

say "the token in WEFT_TOKEN: wiped from /proc/PID/environ, not passed to the apply command"
TOKEN3=$(new_token) || fail "token create"
printf '#!/bin/sh\ncat > /dev/null\nenv > "%s"\necho "{}"\n' "$T/n3.env" > "$T/env.sh"
chmod +x "$T/env.sh"
# shellcheck disable=SC2046
WEFT_TOKEN="$TOKEN3" "$NODE" $(node_args n3 --apply-command x) --apply-command "$T/env.sh" \
    >> "$T/n3.log" 2>&1 &
PID_OF[n3]=$!
wait_for 'is_online n3' 20 || fail "n3 did not enrol from WEFT_TOKEN"
in_proc "${PID_OF[n3]}" "$TOKEN3" && fail "n3's /proc/PID/environ still holds the token"
ctl twin set n3 '{"a": 1}' > /dev/null || fail "twin set n3"
wait_for '[[ -s "$T/n3.env" ]]' 20 || fail "n3 did not run its apply command"
grep -q "WEFT_DESIRED_VERSION" "$T/n3.env" || fail "the apply command's environment: $(cat "$T/n3.env")"
grep -q "WEFT_TOKEN\|$TOKEN3" "$T/n3.env" && fail "the apply command inherited the token"

say "a token in a file and in WEFT_TOKEN at once is refused"
out=$(WEFT_TOKEN="$TOKEN3" run_node r3 --token-file "$T/t1.token"); rc=$?
(( rc == 2 )) || fail "two tokens: expected exit 2, got $rc ($out)"
echo "$out" | grep -q "given twice" || fail "two tokens: $out"
say "ok"
