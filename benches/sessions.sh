#!/usr/bin/env bash
# Recording on vs off on the zero-latency engine benches (BENCHMARKS.md, "Sessions"):
# `agentctl run FILE --json` (wall_ms: engine time) and the whole process's
# wall time (the recorder's last fsync included), median of N runs each.
# Usage: benches/sessions.sh [N]   (builds the release binary first)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-9}
cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/agentctl
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-14s %6s %10s %10s %10s %10s %8s %8s\n' workflow tasks off_us/t on_us/t off_proc on_proc rss_off rss_on
for f in fanout_5000 chain_1000 loop_1000; do
  declare -A w=() p=() r=()
  for mode in off on; do
    walls=(); procs=(); rss=()
    flag=--no-record; [ "$mode" = on ] && flag="--session-dir=$dir"
    for _ in $(seq "$n"); do
      s=$(date +%s%N)
      out=$( { /usr/bin/time -f 'RSS %M' "$bin" run "assets/bench/$f.toml" --json "$flag"; } 2>&1 )
      e=$(date +%s%N)
      walls+=("$(grep -o '"wall_ms": [0-9.]*' <<<"$out" | awk '{print $2}')")
      procs+=("$(( (e - s) / 1000000 ))")
      rss+=("$(grep -o 'RSS [0-9]*' <<<"$out" | awk '{print $2}')")
      tasks=$(grep -o '"tasks_completed": [0-9]*' <<<"$out" | awk '{print $2}')
    done
    w[$mode]=$(printf '%s\n' "${walls[@]}" | median)
    p[$mode]=$(printf '%s\n' "${procs[@]}" | median)
    r[$mode]=$(printf '%s\n' "${rss[@]}" | median)
    rm -f "$dir"/*.jsonl
  done
  awk -v f="$f" -v t="$tasks" -v a="${w[off]}" -v b="${w[on]}" -v pa="${p[off]}" -v pb="${p[on]}" -v ra="${r[off]}" -v rb="${r[on]}" \
    'BEGIN {printf "%-14s %6d %10.2f %10.2f %8dms %8dms %7.1fM %7.1fM\n", f, t, 1000*a/t, 1000*b/t, pa, pb, ra/1024, rb/1024}'
done
