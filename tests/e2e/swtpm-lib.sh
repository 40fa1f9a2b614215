#   swtpm-lib.sh - swtpm processes for a test: new_tpm starts one on free
#   ports with an absolute state directory; all are stopped on exit with
#   the test's processes. Source after lib.sh. A test without swtpm
#   installed is skipped.
SWTPM="$E2E_ROOT/tests/tpm/swtpm.sh"
command -v swtpm > /dev/null || { echo "SKIP: swtpm not installed"; exit 0; }

SWTPM_DIRS=()
tpm_cleanup () {
    local rc=$? dir
    for dir in "${SWTPM_DIRS[@]}"; do "$SWTPM" stop "$dir" 2>/dev/null; done
    (exit $rc)
    e2e_cleanup
}
trap tpm_cleanup EXIT

#   new_tpm VAR [--ek-cert]: start a swtpm, VAR_TCTI and VAR_DIR set
new_tpm () {
    local var=$1; shift
    local out
    out=$("$SWTPM" start "$@") || fail "swtpm did not start"
    eval "$out"
    SWTPM_DIRS+=("$WEFT_SWTPM_DIR")
    printf -v "${var}_TCTI" '%s' "$WEFT_TPM_TCTI"
    printf -v "${var}_DIR" '%s' "$WEFT_SWTPM_DIR"
}
