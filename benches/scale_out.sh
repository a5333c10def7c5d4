#!/usr/bin/env bash
# Scale-out on NATS JetStream (issue #17): throughput of N tasks x L ms sim
# latency with 1, 2 and 4 workers (concurrency 8 each) against in-process,
# and the per-task cost of the NATS hop with zero-latency agents. Starts its
# own nats-server on a free loopback port. Figures are `run --json`'s
# wall_ms (engine time, start-up excluded), median of R runs.
# Usage: benches/scale_out.sh [TASKS] [LATENCY_MS] [RUNS] [BUILD]
#   BUILD: release (default) or debug (quick look; debug figures are slow).
set -euo pipefail
cd "$(dirname "$0")/.."
tasks=${1:-400}; latency=${2:-50}; runs=${3:-3}; build=${4:-release}
if [ "$build" = release ]; then cargo build --release --quiet; else cargo build --quiet; fi
bin=target/$build/agentctl
tmp=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nats-server -js -a 127.0.0.1 -p "$port" -sd "$tmp/js" >/dev/null 2>&1 &
url=nats://127.0.0.1:$port
sleep 0.5

flow() { # flow NAME LATENCY: one map of $tasks agent tasks
  cat >"$tmp/$1.toml" <<TOML
[workflow]
name = "$1"
input = "go"
[[agents]]
id = "worker"
concurrency = 0
sim = { reply_words = 4, latency_ms = $2 }
[[nodes]]
id = "fan"
kind = "map"
count = $tasks
concurrency = $tasks
body = "work"
[[nodes]]
id = "work"
kind = "agent"
agent = "worker"
TOML
}
flow slow "$latency"; flow zero 0

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
wall() { # wall FLOW [ARGS...]
  local f=$1; shift
  for _ in $(seq "$runs"); do
    "$bin" run "$tmp/$f.toml" --json --no-record "$@" | grep -o '"wall_ms": [0-9.]*' | awk '{print $2}'
  done | median
}
workers() { # workers N: (re)start N workers
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  pids=()
  for i in $(seq "$1"); do
    "$bin" worker --nats "$url" --id "bench-$i" --concurrency 8 >/dev/null 2>&1 &
    pids+=($!)
  done
  sleep 2
}
pids=()

local_slow=$(wall slow)
local_zero=$(wall zero)
printf '%-26s %10s %10s %10s\n' case wall_ms tasks/s scaling
awk -v w="$local_slow" -v t="$tasks" 'BEGIN {printf "%-26s %10.1f %10.0f %10s\n", "in-process", w, 1000*t/w, "-"}'
one=""
for n in 1 2 4; do
  workers "$n"
  w=$(wall slow --nats "$url")
  [ -z "$one" ] && one=$w
  awk -v n="$n" -v w="$w" -v t="$tasks" -v one="$one" 'BEGIN {printf "%-26s %10.1f %10.0f %9.2fx\n", n " worker(s) x 8, " '"$latency"' " ms", w, 1000*t/w, one/w}'
done
z=$(wall zero --nats "$url")
awk -v z="$z" -v l="$local_zero" -v t="$tasks" 'BEGIN {
  printf "%-26s %10.1f %10.0f\n", "4 workers, 0 ms", z, 1000*t/z
  printf "hop overhead per task: %.0f us (in-process %.1f us/task, --nats %.1f us/task)\n", 1000*(z-l)/t, 1000*l/t, 1000*z/t }'
