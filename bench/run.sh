#!/usr/bin/env bash
# Every benchmark of bench/, full size, each figure the median of >= 3 runs with min and max, and
# every comparison a ratio measured side by side in the same run. Results: bench/RESULTS.md.
#   bench/run.sh            full run (~20 minutes on 2 cores; field conditions run at the API's real pace)
#   bench/run.sh --quick    a few seconds per benchmark (what ctest's smoke tests run)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=()
[[ ${1:-} == --quick ]] && quick=(--quick)

packages=(build-essential cmake ninja-build libboost1.81-dev libssl-dev libsimdjson-dev libgtest-dev
          libcli11-dev wrk)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The same optimised (RelWithDebInfo, -O2) build as ./dev.sh uses, so no third full compile.
cmake -S . -B build -G Ninja -DRELICENSE_WERROR=ON >/dev/null
cmake --build build -j "$(nproc)" --target plan_bench sim_bench engine_bench batch_bench field_bench hybrid_bench
bin=build/bin

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
echo
echo "## 1. Planner: 1,000,000-row CSV"
"$bin/plan_bench" "${quick[@]}"
echo
echo "## 2. Twin ceiling: wrk against the twin, budget off"
"$bin/sim_bench" --seconds 5 "${quick[@]}"
echo
echo "## 3. Engine: throughput against wrk (budget off), budget efficiency"
if ((${#quick[@]})); then "$bin/engine_bench" --quick; else "$bin/engine_bench" --rows 60000 --reps 3 --budget-rows 2000; fi
echo
echo "## 4. Batch mode against put mode (real budget's shape, scaled)"
"$bin/batch_bench" "${quick[@]}"
echo
echo "## 5. Field conditions: another application on the org budget, log-normal answers"
if ((${#quick[@]})); then "$bin/field_bench" --quick; else "$bin/field_bench" --rows 300 --reps 5 --latency-ms 800; fi
echo
echo "## 6. Field conditions: auto mode beside put and batch, twin batch speeds of 2-1000 ms per action"
if ((${#quick[@]})); then
  "$bin/hybrid_bench" --quick
else
  "$bin/hybrid_bench" --rows 300 --reps 3
  "$bin/hybrid_bench" --rows 1000 --reps 3
fi
