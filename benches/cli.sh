#!/usr/bin/env bash
# Measures the engine-issue targets the way the issue defines them:
# `agentctl run FILE --json` (wall_ms: engine time, start-up excluded) and
# /usr/bin/time (peak RSS of the whole process), median of N runs. Session
# recording is off (--no-record): these are the engine's figures;
# benches/sessions.sh measures recording on vs off.
# Usage: benches/cli.sh [N]   (builds the release binary first)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-9}
cargo build --release --quiet
bin=target/release/agentctl
printf '%-18s %8s %12s %12s %10s\n' workflow tasks wall_ms us/task rss_MiB
for f in fanout_5000 chain_1000 loop_1000 fanout_sleep_100; do
  walls=(); rss=(); tasks=0
  for _ in $(seq "$n"); do
    out=$( { /usr/bin/time -f 'RSS %M' "$bin" run "assets/bench/$f.toml" --json --no-record; } 2>&1 )
    walls+=("$(grep -o '"wall_ms": [0-9.]*' <<<"$out" | awk '{print $2}')")
    rss+=("$(grep -o 'RSS [0-9]*' <<<"$out" | awk '{print $2}')")
    tasks=$(grep -o '"tasks_completed": [0-9]*' <<<"$out" | head -1 | awk '{print $2}')
  done
  wall=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  peak=$(printf '%s\n' "${rss[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  awk -v f="$f" -v t="$tasks" -v w="$wall" -v r="$peak" 'BEGIN {printf "%-18s %8d %12.2f %12.2f %10.1f\n", f, t, w, 1000*w/t, r/1024}'
done
if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 20 --runs 300 "$bin --version" 2>/dev/null | grep -E 'Time|Range'
fi
