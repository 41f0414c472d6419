#!/usr/bin/env bash
# Do verify and attribute stay within a laptop's memory as the store grows?
# Fills one store through leaktrace serve on loopback (the seeded
# investigation of bench/seed.sh, scam mail quoting its orders) in steps,
# and after each step runs `verify`, `attribute` and `attribute --json`,
# printing wall time and peak resident memory. One command:
#
#   bench/scale.sh                        # 20,000 then 60,000 contacts
#   STEPS="20000 60000 200000" bench/scale.sh
set -euo pipefail

STEPS=${STEPS:-"20000 60000"}
if [ ! -x /usr/bin/time ]; then
	echo "bench/scale.sh measures with GNU time: apt-get install time" >&2
	exit 1
fi

# shellcheck source=bench/serve.sh
source "$(dirname "$0")/serve.sh" scale

measure() { # label, command...
	local label=$1
	shift
	/usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>&1 || { echo "$label failed" >&2; exit 1; }
	read -r wall kib <"$work/time"
	printf "  %-18s %7.1f s %7d MiB\n" "$label" "$wall" $((kib / 1024))
}

stored=0
for target in $STEPS; do
	"$work/loadclient" -addr "127.0.0.1:$port" -n $((target - stored)) -size 2048 -conns 8 -targets "$work/targets.tsv" >/dev/null
	stored=$target
	echo "$stored contacts ($(du -cm "$work"/scale.db* | tail -1 | cut -f1) MiB on disk)"
	measure verify "$work/leaktrace" --db "$work/scale.db" verify
	measure attribute "$work/leaktrace" --db "$work/scale.db" attribute --investigation bench
	measure "attribute --json" "$work/leaktrace" --db "$work/scale.db" --json attribute --investigation bench
done
