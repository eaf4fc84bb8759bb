#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600), JOBS at a time (default 2).
#   fuzz/run.sh [SECONDS] [JOBS]
# Needs cargo-fuzz (cargo install cargo-fuzz); RUSTC_BOOTSTRAP lets the stable toolchain
# accept the sanitizer flags cargo-fuzz passes. A crash leaves its input in
# fuzz/artifacts/TARGET/ and makes this script fail; keep such inputs in
# fuzz/regressions/TARGET/ once fixed: every run, .ci/run's smoke pass included, starts from them.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
jobs=${2:-2}
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
targets=${*:3}
[ -n "$targets" ] || targets=$(cargo fuzz list)
mkdir -p logs
run() {
  local target=$1
  mkdir -p "corpus/$target"
  local seeds=()
  [ -d "regressions/$target" ] && seeds+=("regressions/$target")
  [ -d "seeds/$target" ] && seeds+=("seeds/$target")
  if cargo fuzz run -O "$target" "corpus/$target" "${seeds[@]}" -- \
      -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1 \
      >"logs/$target.log" 2>&1; then
    echo "$target: ran ${seconds}s without a crash ($(grep -o 'stat::number_of_executed_units: [0-9]*' "logs/$target.log" | grep -o '[0-9]*$') runs)"
  else
    echo "$target: FAILED, see fuzz/logs/$target.log and fuzz/artifacts/$target/"
    return 1
  fi
}
export -f run
export seconds
printf '%s\n' $targets | xargs -P "$jobs" -I{} bash -c 'run {}'
