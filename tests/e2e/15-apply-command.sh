#!/usr/bin/env bash
#   15-apply-command - a node applies its desired twin by running a
#   command: the command sees the document and WEFT_DESIRED_VERSION, its
#   JSON output becomes the reported twin, and a failing command is
#   reported as a failure rather than as applied.
source "$(dirname "$0")/lib.sh"

#   Applies by copying the document; fails on {"fail": true}
cat > "$T/apply.sh" <<SCRIPT
#!/bin/sh
doc=\$(cat)
case "\$doc" in *'"fail":'*true*) echo "cannot apply: asked to fail" >&2; exit 3;; esac
printf '%s' "\$doc" > "$T/cmd.out.json"
printf '{"via": "command", "version": %s}\n' "\$WEFT_DESIRED_VERSION"
SCRIPT
chmod +x "$T/apply.sh"

start_coord
start_node c1 --token-file "$(new_token_file)" --apply-command "$T/apply.sh"
wait_for 'is_online c1' 20 || fail "c1 did not come online"

say "a command's JSON output becomes the reported twin"
ctl twin set c1 '{"sampling_ms": 250}' > /dev/null || fail "twin set c1"
wait_for '[[ "$(ctl --json twin get c1 | jget reported.via)" == command ]]' 20 \
    || fail "the command's output was not reported: $(ctl --json twin get c1)"
twin=$(ctl --json twin get c1)
[[ "$(echo "$twin" | jget reported.version)" == "$(echo "$twin" | jget desired_version)" ]] \
    || fail "the command did not see WEFT_DESIRED_VERSION: $twin"
[[ "$(echo "$twin" | jget applied_version)" == "$(echo "$twin" | jget desired_version)" ]] \
    || fail "applied_version does not match: $twin"
[[ "$(jget sampling_ms < "$T/cmd.out.json")" == 250 ]] || fail "the command did not get the document"

say "a failing command is reported as a failure"
ctl twin set c1 '{"fail": true}' > /dev/null || fail "twin set c1 fail"
wait_for '[[ "$(ctl --json twin get c1 | jget status)" != ok ]]' 20 \
    || fail "a failed apply was reported as ok: $(ctl --json twin get c1)"
ctl twin get c1 | tee "$T/twin.txt"
grep -q "(failed)" "$T/twin.txt" || fail "twin get does not show the failure"
say "ok"
