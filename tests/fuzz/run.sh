#!/usr/bin/env bash
#   run.sh - short runs of every libFuzzer target; fails if any finds a crash.
#   Usage: tests/fuzz/run.sh BUILD_FUZZ_DIR
#   Every target tests/fuzz/NAME.c (built as BUILD_FUZZ_DIR/NAME) runs
#   FUZZ_SECONDS (default 20) seconds. The proto targets are seeded from
#   a corpus made from the golden vectors in tests/golden: every
#   envelope, its payload (for the msg and wire targets, prefixed with
#   the type byte) and the certificate (all of them for the codec target); the
#   eventlog target from the real logs in tests/fixtures/eventlog; other
#   targets from tests/fuzz/corpus/NAME if it exists. Crash inputs are kept in BUILD_FUZZ_DIR/crashes/NAME/.
set -u
BUILD=${1:-build-fuzz}
BUILD=$(cd "$BUILD" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_EACH=${FUZZ_SECONDS:-20}
cd "$ROOT"
WORK=$(mktemp -d /tmp/weft-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

TARGETS=()
for src in tests/fuzz/*.c; do
    [[ -e "$src" ]] || continue
    TARGETS+=("$(basename "$src" .c)")
done
#   Corpus: golden hex -> binary files, one directory per target
for target in "${TARGETS[@]}"; do
    mkdir -p "$WORK/corpus/$target"
    if [[ -d "tests/fuzz/corpus/$target" ]]; then
        cp -r "tests/fuzz/corpus/$target/." "$WORK/corpus/$target/"
    fi
done
for hex in tests/golden/*.hex; do
    [[ -e "$hex" ]] || continue
    name=$(basename "$hex" .hex)
    bin="$WORK/$name.bin"
    perl -0777 -ne 's/\s+//g; print pack("H*", $_)' "$hex" > "$bin"
    case "$name" in
        cert*)      cp "$bin" "$WORK/corpus/cert/$name" ;;
        envelope-*|site-*) cp "$bin" "$WORK/corpus/envelope/$name" ;;
        release-*)  cp "$bin" "$WORK/corpus/release/$name" ;;
        sworder-*)  cp "$bin" "$WORK/corpus/sworder/$name" ;;
        manifest*)  cp "$bin" "$WORK/corpus/manifest/$name" ;;
    esac
    #   The codec target takes any msgpack: every golden file
    [[ -d "$WORK/corpus/codec" ]] && cp "$bin" "$WORK/corpus/codec/$name"
done
#   The event log target starts from real firmware logs
if [[ -d "$WORK/corpus/eventlog" ]]; then
    cp tests/fixtures/eventlog/*.bin "$WORK/corpus/eventlog/"
fi
#   Payloads for the msg target: extracted by the helper below, which
#   is the envelope target itself run on each golden frame with
#   WEFT_FUZZ_EXPORT set (see tests/fuzz/envelope.c).
if [[ -x "$BUILD/envelope" && -d "$WORK/corpus/msg" ]]; then
    for frame in "$WORK"/corpus/envelope/*; do
        [[ -e "$frame" ]] || continue
        WEFT_FUZZ_EXPORT="$WORK/corpus/msg/$(basename "$frame")" \
            "$BUILD/envelope" "$frame" > /dev/null 2>&1 || true
    done
    #   The wire target takes the same (type byte, payload) inputs, of
    #   every type
    [[ -d "$WORK/corpus/wire" ]] && cp "$WORK"/corpus/msg/* "$WORK/corpus/wire/" 2>/dev/null
    #   The sitemsg target reads the type byte as the golden files do
    [[ -d "$WORK/corpus/sitemsg" ]] && cp "$WORK"/corpus/msg/site-* "$WORK/corpus/sitemsg/" 2>/dev/null
fi

failed=0
for target in "${TARGETS[@]}"; do
    bin="$BUILD/$target"
    if [[ ! -x "$bin" ]]; then
        echo "FAIL  fuzz/$target: $bin not built"
        failed=$((failed + 1))
        continue
    fi
    crashes="$BUILD/crashes/$target"
    mkdir -p "$crashes"
    log="$WORK/$target.log"
    if "$bin" -max_total_time="$SECONDS_EACH" -malloc_limit_mb=16 -rss_limit_mb=512 \
            -max_len=65536 -timeout=10 -print_final_stats=1 \
            -artifact_prefix="$crashes/" \
            "$WORK/corpus/$target" > "$log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
        echo "ok    fuzz/$target (${runs:-?} runs in ${SECONDS_EACH}s)"
    else
        echo "FAIL  fuzz/$target (inputs kept in $crashes)"
        grep -E 'ERROR|SUMMARY|Assertion|==[0-9]+==' "$log" | head -n 20 | sed 's/^/    | /'
        failed=$((failed + 1))
    fi
done
(( failed == 0 ))
