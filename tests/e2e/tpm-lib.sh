#   tpm-lib.sh - one swtpm for a test (swtpm-lib.sh: more with new_tpm),
#   stopped on exit with the test's processes. Source after lib.sh. Sets TCTI (for --tpm) and LOG (the TCG event log
#   the test's "boot" writes); measure PCR:TEXT appends an event and
#   extends the PCR, as firmware would.
source "$(dirname "${BASH_SOURCE[0]}")/swtpm-lib.sh"
new_tpm THE
TCTI=$THE_TCTI
LOG="$T/boot.log"

measure () {
    "$NODE" --data-dir "$T/measure" --tpm "$TCTI" --event-log "$LOG" --measure "$1" \
        >> "$T/measure.log" 2>&1 || fail "--measure $1 failed: $(tail -3 "$T/measure.log")"
}
