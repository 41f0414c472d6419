#!/usr/bin/env bash
# Benchmark `leaktrace serve` against Mailpit and a go-smtp discard sink, on
# loopback, with the same generated messages. One command:
#
#   bench/run.sh                      # N=2000 messages per run, ROUNDS=3
#   N=500 ROUNDS=5 bench/run.sh
#
# Every configuration (2 KB and 100 KB; 8 and 1 connections) runs once per
# round against each server in turn (interleaved), and the medians are
# printed. The messages are what a fake customer service sends: written to
# a canary address of a seeded investigation (bench/seed.sh, ORDERS=200
# orders), quoting the order's shipping name, item, price and number.
# leaktrace runs as shipped: synchronous=FULL, group commit, DKIM and SPF
# checks, matching against every token and the audit chain. DNS goes to 127.0.0.1:1
# (refused at once, answers cached) so no lookup leaves the machine.
# A diagnostic row "leaktrace-hdr" runs leaktrace with matching limited to
# the headers (--mime-max-text-bytes 1): it shows what the body matching
# costs; it is not a setting to use.
# Two ceilings run beside them: "sink" discards every message (the cost of
# SMTP alone), and "durable-sink" appends every message to a file and
# answers 250 only after an fdatasync covering it, sessions sharing each
# write and sync: the least any receiver that keeps leaktrace's durability
# promise must do, with no parsing, matching or database. No design that
# answers only after a durable commit can be faster than it on this disk.
# Finally the peak resident memory of leaktrace is read before and after
# three 10 MiB messages stream in.
set -euo pipefail

N=${N:-2000}
N_BIG=${N_BIG:-$((N / 5))}
ROUNDS=${ROUNDS:-3}
MAILPIT_VERSION=${MAILPIT_VERSION:-v1.27.11}

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	for _ in $(seq 1 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "nothing listens on port $1" >&2
	exit 1
}

echo "== building (Mailpit $MAILPIT_VERSION into a temporary GOBIN)" >&2
GOBIN="$work/bin" go install "github.com/axllent/mailpit@$MAILPIT_VERSION"
(cd "$root" && go build -o "$work/bin/leaktrace" ./cmd/leaktrace &&
	go build -o "$work/bin/loadclient" ./bench/loadclient &&
	go build -o "$work/bin/sink" ./bench/sink)

declare -A port
for s in mailpit leaktrace leaktrace-hdr sink durable-sink; do port[$s]=$(free_port); done

"$work/bin/mailpit" --smtp "127.0.0.1:${port[mailpit]}" --listen "127.0.0.1:$(free_port)" \
	--database "$work/mailpit.db" --max 0 --smtp-disable-rdns --disable-version-check -q >"$work/mailpit.log" 2>&1 &
pids+=($!)

# One seeded database (an investigation of ORDERS orders with their tokens),
# copied for the second leaktrace; every server gets the same messages,
# written to those canary identities.
targets="$work/targets.tsv"
bash "$root/bench/seed.sh" "$work/bin/leaktrace" "$work/seed.db" "$targets"
start_leaktrace() { # name, extra flags...
	local name=$1
	shift
	local db="$work/$name.db"
	cp "$work/seed.db" "$db"
	"$work/bin/leaktrace" --db "$db" serve --smtp "127.0.0.1:${port[$name]}" --dns 127.0.0.1:1 \
		--min-free-disk 1 --max-connections-per-ip 64 --hostname bench.test "$@" >"$work/$name.log" 2>&1 &
	pids+=($!)
}
start_leaktrace leaktrace
lt_pid=${pids[-1]}
start_leaktrace leaktrace-hdr --mime-max-text-bytes 1
"$work/bin/sink" -addr "127.0.0.1:${port[sink]}" >"$work/sink.log" 2>&1 &
pids+=($!)
"$work/bin/sink" -addr "127.0.0.1:${port[durable-sink]}" -spool "$work/spool" >"$work/durable-sink.log" 2>&1 &
pids+=($!)
servers=(mailpit leaktrace leaktrace-hdr sink durable-sink)
for s in "${servers[@]}"; do wait_port "${port[$s]}"; done

hwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hwm0=$(hwm "$lt_pid")
"$work/bin/loadclient" -addr "127.0.0.1:${port[leaktrace]}" -n 3 -size $((10 * 1024 * 1024 - 4096)) -conns 1 -targets "$targets" >/dev/null
hwm1=$(hwm "$lt_pid")

results="$work/results.txt"
: >"$results"
configs=("2048 8 $N" "2048 1 $N" "102400 8 $N_BIG" "102400 1 $N_BIG")
for round in $(seq 1 "$ROUNDS"); do
	for cfg in "${configs[@]}"; do
		read -r size conns n <<<"$cfg"
		for s in "${servers[@]}"; do
			rate=$("$work/bin/loadclient" -addr "127.0.0.1:${port[$s]}" -n "$n" -size "$size" -conns "$conns" -targets "$targets" |
				sed -n 's/.*msgs_per_s=\([0-9.]*\).*/\1/p')
			echo "$round $size $conns $s $rate" >>"$results"
			echo "round $round size=$size conns=$conns $s: $rate msgs/s" >&2
		done
	done
done

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "medians of $ROUNDS interleaved rounds (msgs/s); N=$N (2 KB), $N_BIG (100 KB) messages per run"
printf "%-8s %-6s %10s %10s %14s %10s %13s %8s %8s\n" size conns mailpit leaktrace leaktrace-hdr sink durable-sink ratio ceiling
for cfg in "${configs[@]}"; do
	read -r size conns n <<<"$cfg"
	declare -A med
	for s in "${servers[@]}"; do
		med[$s]=$(awk -v z="$size" -v c="$conns" -v s="$s" '$2==z && $3==c && $4==s {print $5}' "$results" | median)
	done
	ratio=$(awk -v a="${med[leaktrace]}" -v b="${med[mailpit]}" 'BEGIN {printf "%.2fx", a/b}')
	ceiling=$(awk -v a="${med[durable-sink]}" -v b="${med[mailpit]}" 'BEGIN {printf "%.2fx", a/b}')
	printf "%-8s %-6s %10s %10s %14s %10s %13s %8s %8s\n" "$size" "$conns" "${med[mailpit]}" "${med[leaktrace]}" "${med[leaktrace-hdr]}" "${med[sink]}" "${med[durable-sink]}" "$ratio" "$ceiling"
done
echo
stored=$("$work/bin/leaktrace" --db "$work/leaktrace.db" --json attribute --investigation bench | python3 -c '
import collections, json, sys
c = json.load(sys.stdin)["contacts"]
print(len(c), "contacts:", ", ".join(f"{n} {s}" for s, n in sorted(collections.Counter(x["status"] for x in c).items())))')
echo "leaktrace stored $stored; peak RSS ${hwm0} KiB at start, ${hwm1} KiB after three 10 MiB messages; RSS now $(rss "$lt_pid") KiB"
