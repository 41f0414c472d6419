package main

import (
	"context"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/leaktrace/leaktrace/attribution"
	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/ingest"
	"github.com/leaktrace/leaktrace/sqlite"
)

func demoCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run a whole investigation end to end on a temporary database and print what it finds",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "keep", EnvVars: []string{"LEAKTRACE_DEMO_KEEP"}, Usage: "keep the temporary database and print its path"},
			&cli.Uint64Flag{Name: "seed", Value: 2611, EnvVars: []string{"LEAKTRACE_DEMO_SEED"}, Usage: "seed for the demo's personas and codes"},
		},
		Action: func(c *cli.Context) error {
			dir, err := os.MkdirTemp("", "leaktrace-demo-")
			if err != nil {
				return fmt.Errorf("make temporary directory: %w", err)
			}
			if !c.Bool("keep") {
				defer os.RemoveAll(dir)
			}
			path := filepath.Join(dir, "demo.db")
			db, err := sqlite.Open(c.Context, path, e.log)
			if err != nil {
				return err
			}
			defer db.Close()
			narrative := e.stdout
			if c.Bool("json") {
				narrative = io.Discard
			}
			d := &demo{ctx: c.Context, db: db, w: narrative, clock: e.now().UTC().Add(-45 * 24 * time.Hour).Truncate(time.Minute)}
			db.Now = func() time.Time { return d.clock }
			// A seeded generator makes the demo repeatable; real investigations
			// always use crypto/rand.
			db.Rand = mathrand.NewChaCha8(seedBytes(c.Uint64("seed")))
			if err := d.run(); err != nil {
				return err
			}
			// Report a month after the last contact, so that the silent orders
			// count as observed.
			d.advance(30)
			rep, err := e.attribute(c.Context, db, attribution.Input{Now: d.clock, MinObservation: 30 * 24 * time.Hour})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(e.stdout, rep)
			}
			d.section("4. What the evidence says")
			printReport(e.stdout, rep)
			vr, err := db.Verify(c.Context, "")
			if err != nil {
				return err
			}
			d.section("5. Is the evidence intact?")
			fmt.Fprintf(e.stdout, "leaktrace verify: %d audit chains, %d entries, %d raw objects re-hashed, %d rows read back against their entries: ",
				vr.Chains, vr.Entries, vr.Objects, vr.Rows)
			if vr.OK {
				fmt.Fprintln(e.stdout, "all intact.")
			} else {
				fmt.Fprintf(e.stdout, "PROBLEMS: %v\n", vr.Problems)
			}
			if c.Bool("keep") {
				fmt.Fprintf(e.stdout, "\nThe database is kept at %s: try  leaktrace --db %s attribute --json\n", path, path)
			}
			return nil
		},
	}
}

func seedBytes(seed uint64) [32]byte {
	var b [32]byte
	for i := range 8 {
		b[i] = byte(seed >> (8 * i))
	}
	copy(b[8:], "leaktrace demo seed")
	return b
}

// demo plays an advocate's investigation on a simulated clock: the orders
// go out, and weeks later the scams come in.
type demo struct {
	ctx    context.Context
	db     *sqlite.DB
	w      io.Writer
	clock  time.Time
	orders map[string]*canary.Order
	in     *ingest.Ingester
	err    error
}

func (d *demo) section(title string) {
	fmt.Fprintf(d.w, "\n%s\n%s\n\n", title, strings.Repeat("─", len([]rune(title))))
}

func (d *demo) advance(days float64) {
	d.clock = d.clock.Add(time.Duration(days * 24 * float64(time.Hour)))
}

func (d *demo) run() error {
	fmt.Fprintln(d.w, "leaktrace demo — one advocate, two marketplaces, nine test orders, and the scams that followed.")
	fmt.Fprintln(d.w, "Everything below runs for real on a temporary SQLite database; the clock is simulated.")
	if err := d.setup(); err != nil {
		return err
	}
	if err := d.placeOrders(); err != nil {
		return err
	}
	return d.receive()
}

func (d *demo) setup() error {
	d.section("1. Setting up")
	parties := []canary.Party{
		{Name: "ShopA", Kind: canary.KindPlatform, Domains: []string{"shopa.vn"}, Senders: []string{"ShopA"}},
		{Name: "Mỹ Phẩm Linh Chi", Kind: canary.KindMerchant},
		{Name: "Lens Pharmacy", Kind: canary.KindMerchant},
		{Name: "FastExpress", Kind: canary.KindCourier, Senders: []string{"FASTEXP"}},
		{Name: "GiaoNhanh", Kind: canary.KindCourier},
		{Name: "TaoMall", Kind: canary.KindPlatform, Domains: []string{"taomall.cn"}},
		{Name: "明眸隐形眼镜旗舰店", Kind: canary.KindMerchant},
		{Name: "SwiftCourier", Kind: canary.KindCourier},
	}
	for i := range parties {
		if err := d.db.AddParty(d.ctx, &parties[i]); err != nil {
			return err
		}
	}
	if err := d.db.AddDomain(d.ctx, &canary.Domain{Name: "canary-inbox.example"}); err != nil {
		return err
	}
	pool := "number,provider,label\n+84 912 000 101,Viettel,sim-1\n0912000102,Viettel,sim-2\n0912000103,Mobifone,sim-3\n" +
		"0912000104,Mobifone,sim-4\n0912000105,Vinaphone,sim-5\n0912000106,Vinaphone,sim-6\n0912000107,Vinaphone,sim-7\n" +
		"0912000108,Vinaphone,sim-8\n+86 138 0013 8001,China Mobile,cn-1\n+86 138 0013 8002,China Mobile,cn-2\n" +
		"+86 138 0013 8003,China Mobile,cn-3\n+86 138 0013 8004,China Mobile,cn-4\n"
	if _, err := d.db.ImportPhones(d.ctx, strings.NewReader(pool), "demo pool", "VN", 0); err != nil {
		return err
	}
	d.advance(0.01)
	if _, err := d.db.ImportPhones(d.ctx, strings.NewReader("number\n0912000199\n"), "fresh SIM", "VN", 30*24*time.Hour); err != nil {
		return err
	}
	for _, inv := range []*canary.Investigation{
		{Name: "vn-cosmetics", Locale: canary.LocaleVietnam, Address: "12 ngõ 34 phố Huế, Hai Bà Trưng, Hà Nội"},
		{Name: "cn-lenses", Locale: canary.LocaleChina, Address: "上海市浦东新区张杨路100号3号楼"},
	} {
		if err := d.db.CreateInvestigation(d.ctx, inv); err != nil {
			return err
		}
	}
	// One shopper account per marketplace, used for all of its orders.
	if _, _, _, err := d.db.CreateAccount(d.ctx, "vn-cosmetics", "ShopA", "vn-account"); err != nil {
		return err
	}
	if _, _, _, err := d.db.CreateAccount(d.ctx, "cn-lenses", "TaoMall", "cn-account"); err != nil {
		return err
	}
	fmt.Fprintln(d.w, "Parties: platforms ShopA and TaoMall; merchants Mỹ Phẩm Linh Chi, Lens Pharmacy, 明眸隐形眼镜旗舰店;")
	fmt.Fprintln(d.w, "couriers FastExpress, GiaoNhanh, SwiftCourier. Canary domain canary-inbox.example (catch-all).")
	fmt.Fprintln(d.w, "Phone pool: 12 alias numbers ready, 1 fresh SIM in 30-day quarantine (it measures the noise a recycled number gets).")
	return nil
}

type demoOrder struct {
	inv, ref, platform, merchant, courier, payment string
	facts                                          []sqlite.Fact
	tracking                                       string
	courierApp                                     bool // register tracking in the courier's app with a fresh email
	abandon, noShip                                bool
}

func (d *demo) placeOrders() error {
	d.section("2. Placing the test orders")
	d.orders = map[string]*canary.Order{}
	list := []demoOrder{
		{inv: "vn-cosmetics", ref: "vn-01", platform: "ShopA", merchant: "Mỹ Phẩm Linh Chi", courier: "FastExpress", payment: "prepaid",
			facts: facts("item", "Kem chống nắng Anessa 60ml", "price", "459.000đ", "order_no", "2610120001VN"), tracking: "FX7700012345", courierApp: true},
		{inv: "vn-cosmetics", ref: "vn-02", platform: "ShopA", merchant: "Lens Pharmacy", courier: "FastExpress", payment: "cod",
			facts: facts("item", "Nước tẩy trang Bioderma 500ml", "price", "389.000đ", "order_no", "2610120002VN"), tracking: "FX7700012399", courierApp: true},
		{inv: "vn-cosmetics", ref: "vn-03", platform: "ShopA", merchant: "Lens Pharmacy", courier: "GiaoNhanh", payment: "prepaid",
			facts: facts("item", "Serum Vitamin C Klairs 35ml", "price", "312.000đ", "order_no", "2610120003VN"), tracking: "GN55012003"},
		{inv: "vn-cosmetics", ref: "vn-04", platform: "ShopA", merchant: "Mỹ Phẩm Linh Chi", courier: "GiaoNhanh", payment: "cod",
			facts: facts("item", "Son kem lì Black Rouge A12", "price", "165.000đ", "order_no", "2610120004VN"), tracking: "GN55012004"},
		{inv: "vn-cosmetics", ref: "vn-05", platform: "ShopA", merchant: "Lens Pharmacy", courier: "FastExpress", payment: "prepaid",
			facts: facts("item", "Kính áp tròng 1 ngày 30 miếng", "price", "420.000đ", "order_no", "2610120005VN"), tracking: "FX7700012555", courierApp: true},
		{inv: "vn-cosmetics", ref: "vn-06", platform: "ShopA", merchant: "Mỹ Phẩm Linh Chi", payment: "prepaid", abandon: true},
		{inv: "cn-lenses", ref: "cn-01", platform: "TaoMall", merchant: "明眸隐形眼镜旗舰店", courier: "SwiftCourier", payment: "prepaid",
			facts: facts("item", "隐形眼镜 月抛 2片", "price", "68.50 CNY", "order_no", "2611011234"), tracking: "SC3300998811"},
		{inv: "cn-lenses", ref: "cn-02", platform: "TaoMall", merchant: "明眸隐形眼镜旗舰店", courier: "SwiftCourier", payment: "cod",
			facts: facts("item", "护理液 360ml", "price", "¥39.90", "order_no", "2611015678"), tracking: "SC3300998822"},
		{inv: "cn-lenses", ref: "cn-03", platform: "TaoMall", merchant: "明眸隐形眼镜旗舰店", payment: "prepaid",
			facts: facts("item", "美瞳 日抛 10片", "price", "128元", "order_no", "2611019012"), noShip: true},
	}
	t := &table{}
	t.add("ORDER", "PATH", "PAYMENT", "WHAT HAPPENED")
	for _, o := range list {
		d.advance(0.2)
		var extra []sqlite.ExtraExposure
		if o.courierApp {
			extra = append(extra, sqlite.ExtraExposure{Field: "courier app email", Kind: canary.TokenEmail, To: []string{o.courier}})
		}
		spec := sqlite.OrderSpec{Investigation: o.inv, Ref: o.ref, Platform: o.platform, Merchant: o.merchant, Payment: o.payment,
			Account: strings.SplitN(o.inv, "-", 2)[0] + "-account"}
		created, _, err := d.db.CreateOrder(d.ctx, spec)
		if err != nil {
			return err
		}
		d.orders[o.ref] = created
		what := "placed, shipped"
		switch {
		case o.abandon:
			if d.orders[o.ref], err = d.db.AbandonOrder(d.ctx, o.inv, o.ref); err != nil {
				return err
			}
			what = "abandoned before paying: its tokens are controls"
		default:
			d.advance(0.1)
			if _, err := d.db.PlaceOrder(d.ctx, o.inv, o.ref, d.clock, "", o.facts); err != nil {
				return err
			}
			if o.noShip {
				what = "placed; the shop has not shipped it"
				break
			}
			d.advance(1)
			if d.orders[o.ref], err = d.db.ShipOrder(d.ctx, o.inv, o.ref, o.courier, "", d.clock, facts("tracking_no", o.tracking)); err != nil {
				return err
			}
			if len(extra) > 0 {
				if d.orders[o.ref], err = d.db.AddExposures(d.ctx, o.inv, o.ref, extra); err != nil {
					return err
				}
				what += "; tracking registered in " + o.courier + "'s app with a fresh email"
			}
		}
		if d.orders[o.ref].Stage() != "shipped" {
			all, err := d.db.Orders(d.ctx, o.inv)
			if err != nil {
				return err
			}
			for i := range all {
				if all[i].Ref == o.ref {
					d.orders[o.ref] = &all[i]
				}
			}
		}
		path := o.platform + " → " + o.merchant
		if o.courier != "" && !o.noShip && !o.abandon {
			path += " → " + o.courier
		}
		t.add(o.ref, path, o.payment, what)
	}
	t.write(d.w)
	o := d.orders["vn-01"]
	fmt.Fprintf(d.w, "\nThe order sheet of vn-01 told the shopper what to type where:\n\n")
	st := &table{}
	for _, tok := range o.Tokens {
		st.add("  "+tok.Field, tok.Value, "seen by "+strings.Join(tok.SeenBy(time.Time{}), ", "))
	}
	st.write(d.w)
	return nil
}

// value returns the token of field on an order.
func (d *demo) value(ref, field string) string {
	for _, t := range d.orders[ref].Tokens {
		if t.Field == field {
			return t.Value
		}
	}
	d.err = fmt.Errorf("demo: order %s has no %s token", ref, field)
	return ""
}

// given returns the part of a name greetings use.
func given(name string) string {
	if f := strings.Fields(name); len(f) > 1 {
		return f[len(f)-1]
	}
	r := []rune(name)
	return string(r[:1])
}

// facts pairs keys and values: facts("item", "Kem", "price", "459.000đ").
func facts(kv ...string) []sqlite.Fact {
	var out []sqlite.Fact
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, sqlite.Fact{Key: kv[i], Value: kv[i+1]})
	}
	return out
}
