#!/usr/bin/env bash
#   18-twin-numbers - a number keeps the text the operator wrote (or the
#   shortest text that reads back as the same double): 0.1 stays 0.1
#   through twin set and get, batch twin, the node's applied file, the
#   twin the node reports, and an apply command's reported document.
#   A patch that is not an object is refused by the coordinator.
source "$(dirname "$0")/lib.sh"

#   Reports a document with reals of its own
cat > "$T/apply.sh" <<'SCRIPT'
#!/bin/sh
cat > /dev/null
printf '{"temp": 21.3, "ratio": 0.1, "tiny": 1e-7, "whole": 2.0}\n'
SCRIPT
chmod +x "$T/apply.sh"

start_coord
start_node n1 --token-file "$(new_token_file)"
start_node c1 --token-file "$(new_token_file)" --apply-command "$T/apply.sh"
wait_for '[[ "$(online_count)" == 2 ]]' 20 || fail "nodes did not come online"

say "twin set with reals: the coordinator answers them as written"
out=$(ctl --json twin set n1 '{"gain": 0.1, "list": [2.5e-7, 1.0, 0.3], "big": 1e16}') \
    || fail "twin set n1"
echo "$out"
echo "$out" | grep -q '"gain": 0.1,' || fail "twin set answered gain as something else than 0.1: $out"
echo "$out" | grep -q '2.5e-7,' || fail "twin set answered 2.5e-7 as something else: $out"
echo "$out" | grep -q '"big": 1e16' || fail "twin set answered 1e16 as something else: $out"
echo "$out" | grep -q '0000000000' && fail "a real came back with 17 digits: $out"

say "the node's applied file and its reported twin keep them"
wait_for "twin_synced n1 gain 0.1" 20 || fail "n1 did not apply and report: $(ctl --json twin get n1)"
applied=$(cat "$T/n1.applied.json")
echo "$applied"
[[ "$applied" == '{"big":1e16,"gain":0.1,"list":[2.5e-7,1.0,0.3]}' ]] \
    || fail "applied file is not the document as written: $applied"
twin=$(ctl --json twin get n1)
echo "$twin" | grep -q '0000000000' && fail "twin get has a real with 17 digits: $twin"
[[ "$(echo "$twin" | grep -c '"gain": 0.1')" == 2 ]] \
    || fail "desired and reported gain are not both 0.1: $twin"
ctl twin get n1 | tee "$T/table.txt"
grep -q '"gain": 0.1,' "$T/table.txt" || fail "twin get table does not show gain 0.1"

say "batch twin too"
ctl batch twin --query id=n1 '{"gain": 0.7, "list": null}' > /dev/null || fail "batch twin"
wait_for "twin_synced n1 gain 0.7" 20 || fail "n1 did not apply the batch: $(ctl --json twin get n1)"
[[ "$(cat "$T/n1.applied.json")" == '{"big":1e16,"gain":0.7}' ]] \
    || fail "applied file after the batch: $(cat "$T/n1.applied.json")"

say "an apply command's reported document keeps its reals"
ctl twin set c1 '{"go": 1}' > /dev/null || fail "twin set c1"
wait_for '[[ "$(ctl --json twin get c1 | jget reported.temp)" == 21.3 ]]' 20 \
    || fail "c1 did not report: $(ctl --json twin get c1)"
twin=$(ctl --json twin get c1)
for want in '"temp": 21.3' '"ratio": 0.1' '"tiny": 1e-7' '"whole": 2.0'; do
    echo "$twin" | grep -qF "$want" || fail "c1's report lacks $want: $twin"
done

say "a patch that is not an object is refused, the twin unchanged"
version=$(ctl --json twin get n1 | jget desired_version)
for patch in '[1]' 'null' '"x"' '7'; do
    out=$(ctl twin set n1 "$patch" 2>&1) && fail "a $patch patch was accepted: $out"
    echo "$out" | grep -q "patch must be a JSON object" || fail "refusal of $patch: $out"
done
[[ "$(ctl --json twin get n1 | jget desired_version)" == "$version" ]] \
    || fail "a refused patch changed the twin"
say "ok"
