#!/usr/bin/env bash
# Runs every built fuzz target over a copy of its committed corpus.
#
#   run.sh BUILD_DIR SECONDS_PER_TARGET
#
# BUILD_DIR is a build configured with -DKINESD_FUZZ=ON (and usually
# -DKINESD_SANITIZE=ON). Each target first replays its whole corpus, which
# holds the regression inputs of past findings, then fuzzes for the given
# time. Exits non-zero if any target crashed, leaked, timed out or ran out
# of memory; the input that did it is kept under BUILD_DIR/fuzz-artifacts/.
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS_PER_TARGET" >&2
    exit 2
fi
build=$(cd "$1" && pwd) || exit 2
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)

targets=(fuzz_json_request fuzz_cbor_request fuzz_shard_iterator fuzz_sigv4_header fuzz_http)
declare -A dict=(
    [fuzz_json_request]=json.dict
    [fuzz_cbor_request]=cbor.dict
    [fuzz_sigv4_header]=sigv4.dict
    [fuzz_http]=http.dict
)

work=$(mktemp -d "${TMPDIR:-/tmp}/kinesd-fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"

# Sanitizer reports end the process, so libFuzzer keeps the input. Leak
# checks stay on (the default): a leak per request is a finding too.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$here/lsan.supp}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

passed=0
failed=0
total_execs=0
for target in "${targets[@]}"; do
    bin="$build/tests/fuzz/$target"
    if [ ! -x "$bin" ]; then
        echo "$target: not built, skipped"
        continue
    fi
    corpus="$work/corpus/$target"
    mkdir -p "$corpus"
    if [ -d "$here/corpus/$target" ]; then
        # README and other notes are not inputs.
        find "$here/corpus/$target" -maxdepth 1 -type f ! -name 'README*' -exec cp {} "$corpus/" \;
    fi
    args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix="$artifacts/$target-")
    if [ -n "${dict[$target]:-}" ]; then
        args+=(-dict="$here/${dict[$target]}")
    fi
    log="$work/$target.log"
    # fuzz_http keeps its temporary data directory under TMPDIR.
    mkdir -p "$work/tmp-$target"
    TMPDIR="$work/tmp-$target" "$bin" "${args[@]}" "$corpus" >"$log" 2>&1
    status=$?
    execs=$(awk '/stat::number_of_executed_units:/ {print $2}' "$log" | tail -n 1)
    execs=${execs:-0}
    total_execs=$((total_execs + execs))
    if [ $status -ne 0 ] || grep -qE '^==[0-9]+==ERROR|^SUMMARY: |runtime error:|FINDING:' "$log"; then
        failed=$((failed + 1))
        echo "$target: FAILED (exit $status) after $execs executions; last lines:"
        tail -n 60 "$log" | sed 's/^/    /'
        ls "$artifacts"/"$target"-* 2>/dev/null | sed 's/^/    input kept: /'
    else
        passed=$((passed + 1))
        echo "$target: ok, $execs executions in ${seconds}s"
    fi
done
echo "fuzz: $total_execs executions in total"
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
