#!/usr/bin/env bash
# Builds and runs every fuzz target for a bounded time; exits non-zero on any crash and
# prints the crashing input's path.
#
#   fuzz/run-ci.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 30 s, every target)
#
# Works from a fresh clone on stable Rust (RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the
# sanitizer-coverage flags). Fuzzing runs under `nice -n 19`, one target at a time, and
# the build with one job (CARGO_BUILD_JOBS, default 1), so a machine busy with other work
# keeps its cores. Logs go to fuzz/target/ci-logs/.
set -uo pipefail

seconds="${1:-30}"
shift || true
cd "$(dirname "$0")"
fuzz_dir="$(pwd)"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(decode session state topic url engine)
fi
export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}"
# Our crates forbid `unsafe`: the address sanitizer would mostly halve the speed.
sanitizer="${FUZZ_SANITIZER:-none}"
start=$(date +%s)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    nice -n 19 cargo install cargo-fuzz --locked || exit 2
fi

echo "== seeds"
nice -n 19 cargo run -q -p mqtt-fuzz-seeds -- .. corpus || exit 2

echo "== build (sanitizer: $sanitizer)"
nice -n 19 cargo fuzz build -s "$sanitizer" || exit 2

logs="$fuzz_dir/target/ci-logs"
mkdir -p "$logs"
failed=0
summary=()
for t in "${targets[@]}"; do
    dict=()
    case "$t" in
        decode | session | engine) dict=(-dict=mqtt.dict) ;;
    esac
    mkdir -p "artifacts/$t" "corpus/$t"
    before=$(ls "artifacts/$t" | sort)
    echo "== $t: ${seconds}s"
    t0=$(date +%s)
    nice -n 19 cargo fuzz run -s "$sanitizer" "$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        "${dict[@]}" >"$logs/$t.log" 2>&1
    rc=$?
    t1=$(date +%s)
    stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$logs/$t.log" | tail -1)
    execs=$(grep -m1 '^stat::number_of_executed_units:' "$logs/$t.log" | awk '{print $2}')
    cov=$(echo "$stats" | grep -oE 'cov: [0-9]+' | awk '{print $2}')
    new=$(comm -13 <(echo "$before") <(ls "artifacts/$t" | sort) | grep -v '^$' || true)
    if [ $rc -ne 0 ] || [ -n "$new" ]; then
        failed=1
        echo "!! $t FAILED (exit $rc); log: $logs/$t.log"
        grep -m1 -A3 'panicked at' "$logs/$t.log" || tail -20 "$logs/$t.log"
        for f in $new; do
            echo "!! crashing input: $fuzz_dir/artifacts/$t/$f"
            echo "   reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run -s $sanitizer $t artifacts/$t/$f"
        done
        summary+=("$(printf '%-8s %-6s execs=%-10s cov=%-6s %4ss' "$t" CRASH "${execs:-?}" "${cov:-?}" $((t1 - t0)))")
    else
        summary+=("$(printf '%-8s %-6s execs=%-10s cov=%-6s %4ss' "$t" ok "${execs:-?}" "${cov:-?}" $((t1 - t0)))")
    fi
done

echo "== summary ($(($(date +%s) - start)) s in all)"
printf '%s\n' "${summary[@]}"
exit $failed
