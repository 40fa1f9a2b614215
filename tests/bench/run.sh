#!/usr/bin/env bash
#   run.sh - every benchmark; each prints BENCH lines with its comparator
#   measured in the same run. Usage: tests/bench/run.sh BUILD_DIR
set -euo pipefail
BUILD=${1:-build}
for bench in "$BUILD"/bench-*; do
    [[ -x "$bench" ]] || continue
    "$bench"
done
#   Script benchmarks (tests/bench/*.sh) take the build directory
for script in "$(dirname "$0")"/*.sh; do
    [[ "$(basename "$script")" == run.sh ]] && continue
    bash "$script" "$BUILD"
done
