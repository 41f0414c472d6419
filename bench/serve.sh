# Sourced by bench/soak.sh and bench/scale.sh: builds leaktrace and the
# load client into $work, seeds $work/$1.db (bench/seed.sh) and starts
# leaktrace serve on a free loopback port, as fast as it ships
# (DNS refused at once so no lookup leaves the machine). Sets root, work,
# port and pid, and removes it all on exit.
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && go build -o "$work/leaktrace" ./cmd/leaktrace && go build -o "$work/loadclient" ./bench/loadclient)
bash "$root/bench/seed.sh" "$work/leaktrace" "$work/$1.db" "$work/targets.tsv"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$work/leaktrace" --db "$work/$1.db" serve --smtp "127.0.0.1:$port" --dns 127.0.0.1:1 --min-free-disk 1 \
	--max-connections-per-ip 64 --hostname "$1.test" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
	sleep 0.05
done
