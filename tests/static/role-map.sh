#!/usr/bin/env bash
#   role-map - docs/security.md's role map is the one the code applies:
#   every row weft-coord --list-roles prints (each method against each
#   role, and what a grant of each role may do to operators holding
#   each role) stands in the page word for word, so a role, a method or
#   a cell changed in the code and not in the page fails here.
cd "$(dirname "$0")/../.."
COORD="${WEFT_BUILD:-build}/weft-coord"
[[ -x "$COORD" ]] || { echo "FAIL: $COORD is missing (build first)"; exit 1; }
rows=$("$COORD" --list-roles) || { echo "FAIL: weft-coord --list-roles"; exit 1; }
(( $(wc -l <<< "$rows") > 20 )) || { echo "FAIL: too few rows: $rows"; exit 1; }
bad=0
while IFS= read -r row; do
    if ! grep -qxF -- "$row" docs/security.md; then
        echo "docs/security.md lacks: $row"
        bad=1
    fi
done <<< "$rows"
(( bad == 0 )) || { echo "FAIL: the role map in docs/security.md is not the code's"; exit 1; }
echo "ok: docs/security.md holds the role map as weft-coord applies it"
