#   planted - shared by the static checks that prove themselves: copy the
#   tree, plant one violation, and see the check refuse it. Sourced, not
#   run (tests/run.sh runs tests/static/*.sh only).

#   s_copy_tree ROOT TMP: a fresh copy of ROOT's proto, node and
#   coordinator in TMP/tree
s_copy_tree () {
    rm -rf "$2/tree"
    mkdir -p "$2/tree"
    (cd "$1" && cp -r --parents proto node coordinator "$2/tree/")
}

#   s_refuses_planted CHECK ROOT TMP FILE TEXT: succeeds if CHECK (a
#   function that checks the tree given as its argument) refuses a copy
#   of ROOT with TEXT appended to FILE; exits if FILE is gone
s_refuses_planted () {
    local check=$1 root=$2 tmp=$3 file=$4 text=$5
    s_copy_tree "$root" "$tmp"
    [[ -f "$tmp/tree/$file" ]] || { echo "FAIL: $file is gone; update the planted cases"; exit 1; }
    echo "$text" >> "$tmp/tree/$file"
    ! "$check" "$tmp/tree" > /dev/null
}
