#!/usr/bin/env bash
# Does leaktrace serve slow down as the store grows? Sends CHUNKS chunks of
# CHUNK messages (default 10 × 5,000 = 50,000) of SIZE bytes over CONNS
# connections to one leaktrace serve on loopback, with the seeded
# investigation of bench/seed.sh, and prints each chunk's rate, the
# database size and the resident memory, then the last chunks' rate as a
# share of the first ones'. One command:
#
#   bench/soak.sh
#   CHUNKS=20 CHUNK=5000 bench/soak.sh      # 100,000 messages
set -euo pipefail

CHUNKS=${CHUNKS:-10}
CHUNK=${CHUNK:-5000}
SIZE=${SIZE:-2048}
CONNS=${CONNS:-8}

# shellcheck source=bench/serve.sh
source "$(dirname "$0")/serve.sh" soak

rates=()
printf "%8s %10s %10s %10s\n" stored msgs/s db_MiB rss_MiB
for i in $(seq 1 "$CHUNKS"); do
	rate=$("$work/loadclient" -addr "127.0.0.1:$port" -n "$CHUNK" -size "$SIZE" -conns "$CONNS" -targets "$work/targets.tsv" |
		sed -n 's/.*msgs_per_s=\([0-9.]*\).*/\1/p')
	rates+=("$rate")
	db=$(du -cm "$work"/soak.db* | tail -1 | cut -f1)
	rss=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status")
	printf "%8d %10s %10s %10s\n" $((i * CHUNK)) "$rate" "$db" "$rss"
done
python3 - "${rates[@]}" <<'PY'
import statistics, sys
r = [float(x) for x in sys.argv[1:]]
k = max(1, len(r) // 3)
first, last = statistics.median(r[:k]), statistics.median(r[-k:])
print(f"median of the first {k} chunks {first:.0f} msgs/s, of the last {k} {last:.0f} msgs/s: {100 * last / first:.0f}%")
PY
