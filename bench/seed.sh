#!/usr/bin/env bash
# Seed a leaktrace database for the benchmark with a realistic investigation
# (ORDERS orders across one platform, two merchants and two couriers, a pool
# of alias phones) and write the canary identities a scam mail would quote,
# one order per line, for bench/loadclient -targets:
#
#   bench/seed.sh LEAKTRACE_BINARY DB TARGETS.tsv
set -euo pipefail
lt=$1 db=$2 targets=$3
orders=${ORDERS:-200}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$lt" --db "$db" init >/dev/null
"$lt" --db "$db" domain add canary.example >/dev/null
"$lt" --db "$db" investigation new bench --locale vi-VN --address "12 Nguyễn Trãi, Phường Bến Thành, Quận 1, TP. Hồ Chí Minh" >/dev/null
"$lt" --db "$db" party add ShopA --kind platform --domain shopa.example >/dev/null
for m in "Lens Pharmacy" "Kem Store"; do "$lt" --db "$db" party add "$m" --kind merchant >/dev/null; done
for c in FastExpress SlowPost; do "$lt" --db "$db" party add "$c" --kind courier >/dev/null; done

python3 - "$work" "$orders" <<'PY'
import datetime, json, sys
work, n = sys.argv[1], int(sys.argv[2])
with open(f"{work}/phones.csv", "w") as f:
    f.write("number\n")
    for i in range(2 * n + 50):
        f.write(f"+8490{1000000 + i:07d}\n")
# Placed a little after the tokens are issued (import refuses earlier
# times); the script waits for that moment before it ends, since mail that
# came before an order was placed is nobody's leak.
placed = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)).isoformat(timespec="seconds")
open(f"{work}/placed", "w").write(placed)
orders = [{"ref": f"o-{i:04d}", "platform": "ShopA", "merchant": ["Lens Pharmacy", "Kem Store"][i % 2],
           "courier": ["FastExpress", "SlowPost"][i // 2 % 2], "payment": ["prepaid", "cod"][i % 3 == 0],
           "placed_at": placed,
           "facts": {"item": f"Kem chống nắng SPF50 loại {i}", "price": f"{150000 + 1000 * (i % 300)} VND", "order_no": f"2611{i:06d}VN"}}
          for i in range(n)]
json.dump({"investigation": "bench", "locale": "vi-VN", "orders": orders}, open(f"{work}/orders.json", "w"), ensure_ascii=False)
PY
"$lt" --db "$db" phone import --quarantine-days 0 "$work/phones.csv" >/dev/null
"$lt" --db "$db" orders import "$work/orders.json" >/dev/null
"$lt" --db "$db" --json orders export | python3 -c '
import json, sys
for o in json.load(sys.stdin)["orders"]:
    tok = {t["field"]: t["value"] for t in o["tokens"]}
    facts = {t["field"]: t["value"] for t in o["tokens"] if t["kind"] == "fact"}
    email = tok["merchant chat email"] if int(o["ref"][2:]) % 2 else tok["account email"]
    amount = int(facts["price"].split()[0])  # "150000 VND", written the Vietnamese way: 150.000đ
    print("\t".join([email, tok["shipping name"], f"{amount:,}đ".replace(",", "."), facts["item"], facts["order_no"]]))
' >"$targets"
python3 - "$(cat "$work/placed")" <<'PY'
import datetime, sys, time
placed = datetime.datetime.fromisoformat(sys.argv[1])
time.sleep(max(0, (placed - datetime.datetime.now(datetime.timezone.utc)).total_seconds() + 1))
PY
echo "seeded $db: $orders orders, $(wc -l <"$targets") targets, placed at $(cat "$work/placed")" >&2
