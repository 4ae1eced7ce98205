#!/usr/bin/env bash
# Runs every fuzz target for N seconds each, one after the other, and prints executions,
# coverage, features and findings per target. Usage: fuzz/run-all.sh [N=60] [target...]
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Builds into
# fuzz/target, seeds fuzz/corpus/<target>/ from fixtures/ (seed.py), writes each run's log to
# fuzz/logs/<target>.log and any crash, timeout, slow or oom input to fuzz/artifacts/<target>/.
# Exits 1 when a target found something (or failed to build), 0 otherwise.
set -uo pipefail
cd "$(dirname "$0")"
N="${1:-60}"
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  mapfile -t TARGETS < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^diag-fuzz$')
fi
# Safe Rust (diag_core forbids unsafe): no sanitizer, but debug assertions (overflow checks) on.
FLAGS=(-O -a -s none)
NICE=(nice -n "${FUZZ_NICE:-10}")

dict_of() {
  case "$1" in
    json_differential|metrics_alerts|system_files) echo dict/json.dict ;;
    config_toml|meta_yaml|rule_file|condition) echo dict/yaml.dict ;;
    rhai_sandbox) echo dict/rhai.dict ;;
    log_lines|slow_log) echo dict/log.dict ;;
    db_vars_csv) echo dict/csv.dict ;;
    render) echo dict/xml.dict ;;
    *) echo "" ;;
  esac
}
max_len_of() {
  case "$1" in
    json_differential|bundle_memory|source_*) echo 65536 ;;
    *) echo 16384 ;;
  esac
}

# FUZZ_NO_BUILD=1 runs what fuzz/target already holds.
if [ -z "${FUZZ_NO_BUILD:-}" ]; then
  "${NICE[@]}" cargo +nightly fuzz build "${FLAGS[@]}" >logs.build 2>&1 || { tail -30 logs.build; echo "fuzz build failed"; exit 1; }
fi
BIN="target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"
python3 seed.py >/dev/null || { echo "seeding failed"; exit 1; }
mkdir -p logs
printf '%-18s %12s %8s %8s %8s %s\n' target executions exec/s cov ft findings
status=0
total=0
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  before=$(ls "artifacts/$t" | wc -l)
  dict=$(dict_of "$t")
  args=(-max_total_time="$N" -rss_limit_mb=2048 -timeout=10 -max_len="$(max_len_of "$t")" -print_final_stats=1)
  [ -n "$dict" ] && args+=(-dict="$dict")
  "${NICE[@]}" "$BIN/$t" -artifact_prefix="artifacts/$t/" "${args[@]}" "corpus/$t" >"logs/$t.log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "logs/$t.log" | tail -1)
  line=$(grep -E '^#[0-9]+' "logs/$t.log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$line")
  after=$(ls "artifacts/$t" | wc -l)
  found=$((after - before))
  what=$found
  if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
    status=1
    what="$found ($(grep -m1 -oE 'panicked at [^:]*:[0-9]+|ERROR: libFuzzer: [a-z-]+|SUMMARY: [^(]*' "logs/$t.log" || echo "exit $rc"))"
  fi
  total=$((total + ${execs:-0}))
  printf '%-18s %12s %8s %8s %8s %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$what"
done
echo "total executions: $total"
exit $status
