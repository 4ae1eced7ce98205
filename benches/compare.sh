#!/usr/bin/env bash
# Runs the end-to-end comparison and prints the machine it ran on, then the ratio tables.
# Usage: benches/compare.sh [--quick] [--stages]
#   --quick   fewer repetitions, no 5,000-instance bundle (about 15 s after the build)
#   --stages  also run the criterion stage benches (load, parse, rule forms; about 2 min)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=() stages=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=(--quick) ;;
    --stages) stages=1 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
echo "## Machine"
echo
echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores available"
echo "- Memory: $(free -g | awk '/^Mem:/ {print $2}') GiB; kernel $(uname -r)"
echo "- $(rustc --version)"
echo "- commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with local changes)')"
echo
cargo bench -q -p diag-bundlegen --bench end_to_end -- "${quick[@]}"
if [ "$stages" = 1 ]; then
  cargo bench -q -p diag-bundlegen --bench stages
fi
