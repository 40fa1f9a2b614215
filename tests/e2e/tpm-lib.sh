#   tpm-lib.sh - one swtpm for a test: started on free ports with an
#   absolute state directory, stopped on exit with the test's processes.
#   Source after lib.sh. Sets TCTI (for --tpm) and LOG (the TCG event log
#   the test's "boot" writes); measure PCR:TEXT appends an event and
#   extends the PCR, as firmware would.
SWTPM="$E2E_ROOT/tests/tpm/swtpm.sh"
command -v swtpm > /dev/null || { echo "SKIP: swtpm not installed"; exit 0; }

out=$("$SWTPM" start) || fail "swtpm did not start"
eval "$out"
tpm_cleanup () {
    local rc=$?
    "$SWTPM" stop "$WEFT_SWTPM_DIR" 2>/dev/null
    (exit $rc)
    e2e_cleanup
}
trap tpm_cleanup EXIT
TCTI=$WEFT_TPM_TCTI
LOG="$T/boot.log"

measure () {
    "$NODE" --data-dir "$T/measure" --tpm "$TCTI" --event-log "$LOG" --measure "$1" \
        >> "$T/measure.log" 2>&1 || fail "--measure $1 failed: $(tail -3 "$T/measure.log")"
}
