package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// cli runs leaktrace commands against one database file, as a user would.
type user struct {
	tb  testing.TB
	db  string
	now time.Time // the clock commands run at; tests move it
}

func newCLI(tb testing.TB) *user {
	tb.Helper()
	return &user{tb: tb, db: filepath.Join(tb.TempDir(), "leaktrace.db"), now: time.Date(2026, 10, 1, 2, 0, 0, 0, time.UTC)}
}

// run returns stdout, stderr and the error main would print.
func (c *user) run(args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	app := newAppWithClock(&out, &errb, func() time.Time { return c.now })
	err := app.RunContext(context.Background(), interspersed(app, append([]string{"leaktrace", "--db", c.db}, args...)))
	return out.String(), errb.String(), err
}

// ok runs a command that must succeed and returns its stdout.
func (c *user) ok(args ...string) string {
	c.tb.Helper()
	out, errb, err := c.run(args...)
	if err != nil {
		c.tb.Fatalf("leaktrace %s: %v\nstderr: %s", strings.Join(args, " "), err, errb)
	}
	return out
}

// fails runs a command that must fail and returns its error text.
func (c *user) fails(args ...string) string {
	c.tb.Helper()
	out, _, err := c.run(args...)
	if err == nil {
		c.tb.Fatalf("leaktrace %s succeeded, want an error; stdout: %s", strings.Join(args, " "), out)
	}
	return err.Error()
}

func (c *user) json(v any, args ...string) {
	c.tb.Helper()
	out := c.ok(append([]string{"--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.tb.Fatalf("leaktrace %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type orderOut struct {
	Ref    string `json:"ref"`
	Tokens []struct {
		Kind      string   `json:"kind"`
		Value     string   `json:"value"`
		Field     string   `json:"field"`
		ExposedTo []string `json:"exposed_to"`
	} `json:"tokens"`
}

func (o orderOut) token(tb testing.TB, field string) string {
	tb.Helper()
	for _, t := range o.Tokens {
		if t.Field == field {
			return t.Value
		}
	}
	tb.Fatalf("order %s has no %q token", o.Ref, field)
	return ""
}

type reportOut struct {
	Parties []struct {
		Name                  string   `json:"name"`
		Kind                  string   `json:"kind"`
		OrdersExposed         int      `json:"orders_exposed"`
		Contacts              int      `json:"contacts"`
		ExclusiveContacts     int      `json:"exclusive_contacts"`
		LeakProbability       *float64 `json:"leak_probability"`
		Verdict               string   `json:"verdict"`
		Basis                 string   `json:"basis"`
		IndistinguishableFrom []string `json:"indistinguishable_from"`
	} `json:"parties"`
	Contacts []struct {
		ID         string   `json:"id"`
		Channel    string   `json:"channel"`
		Status     string   `json:"status"`
		Order      string   `json:"order"`
		Orders     []string `json:"orders"`
		Candidates []string `json:"candidates"`
		Matched    []struct {
			Kind  string `json:"kind"`
			Value string `json:"value"`
			How   string `json:"how"`
		} `json:"matched"`
	} `json:"contacts"`
}

func (r reportOut) verdict(tb testing.TB, party string) string {
	tb.Helper()
	for _, p := range r.Parties {
		if p.Name == party {
			return p.Verdict + "/" + p.Basis
		}
	}
	tb.Fatalf("no party %s in report", party)
	return ""
}

// world sets up an investigation with a platform, two merchants, two
// couriers, a canary domain and a phone pool out of quarantine.
func world(tb testing.TB) *user {
	tb.Helper()
	c := newCLI(tb)
	c.ok("init")
	c.ok("investigation", "new", "q4", "--locale", "vi-VN", "--address", "12 ngõ 34 phố Huế, Hà Nội")
	c.ok("party", "add", "--kind", "platform", "--domain", "shopa.vn", "ShopA")
	c.ok("party", "add", "--kind", "merchant", "Lens Pharmacy")
	c.ok("party", "add", "--kind", "merchant", "Mỹ Phẩm Linh Chi")
	c.ok("party", "add", "--kind", "courier", "FastExpress")
	c.ok("party", "add", "--kind", "courier", "GiaoNhanh")
	c.ok("domain", "add", "canary.example")
	pool := filepath.Join(tb.TempDir(), "pool.csv")
	var b strings.Builder
	b.WriteString("number,provider,label\n")
	for i := range 20 {
		fmt.Fprintf(&b, "09120001%02d,Viettel,sim-%d\n", i, i)
	}
	if err := os.WriteFile(pool, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	c.ok("phone", "import", "--quarantine-days", "0", pool)
	return c
}

// at moves the clock on by d and returns the new time, as a user types it.
func (c *user) at(d time.Duration) string {
	c.now = c.now.Add(d)
	return c.now.Format(time.RFC3339)
}

// order creates, places and (unless courier is "") ships an order.
func (c *user) order(ref, merchant, courier, payment string, facts ...string) orderOut {
	c.tb.Helper()
	var o orderOut
	c.json(&o, "order", "new", "--investigation", "q4", "--platform", "ShopA", "--merchant", merchant, "--payment", payment, "--ref", ref)
	args := []string{"order", "placed", ref, "--at", c.at(time.Minute)}
	for _, f := range facts {
		args = append(args, "--fact", f)
	}
	c.ok(args...)
	if courier != "" {
		c.ok("order", "shipped", ref, "--courier", courier, "--at", c.at(time.Hour))
	}
	c.json(&o, "order", "show", ref)
	return o
}

func (c *user) attribute() reportOut {
	c.tb.Helper()
	var r reportOut
	c.json(&r, "attribute", "--investigation", "q4")
	return r
}

func TestQuotedPriceAndItem(t *testing.T) {
	for _, tc := range []struct {
		payment string
		want    []string
	}{
		{"prepaid", []string{"Lens Pharmacy", "ShopA"}},
		{"cod", []string{"FastExpress", "Lens Pharmacy", "ShopA"}},
	} {
		t.Run(tc.payment, func(t *testing.T) {
			c := world(t)
			c.order("o-1", "Lens Pharmacy", "FastExpress", tc.payment, "item=Kem chống nắng Anessa 60ml", "price=459.000đ")
			c.ok("contact", "add", "--channel", "sms", "--to", "+84 88 000 1111", "--at", c.at(2*time.Hour),
				"--text", "Chi oi, don hang Kem chong nang Anessa 60ml gia 459.000 đ cua chi bi loi, goi lai de hoan tien")
			r := c.attribute()
			if len(r.Contacts) != 1 {
				t.Fatalf("contacts=%d, want 1", len(r.Contacts))
			}
			if got := r.Contacts[0].Candidates; !slices.Equal(got, tc.want) {
				t.Fatalf("candidates=%q, want %q (matched %+v)", got, tc.want, r.Contacts[0].Matched)
			}
			if r.Contacts[0].Order != "o-1" {
				t.Fatalf("order=%q, want o-1", r.Contacts[0].Order)
			}
		})
	}
}

func TestGreetingWithAccountName(t *testing.T) {
	c := world(t)
	var acct struct {
		Ref    string `json:"ref"`
		Tokens []struct {
			Field, Value string
		} `json:"tokens"`
	}
	c.json(&acct, "account", "new", "--investigation", "q4", "--platform", "ShopA", "--ref", "main")
	var name string
	for _, tk := range acct.Tokens {
		if tk.Field == "account name" {
			name = tk.Value
		}
	}
	f := strings.Fields(name)
	greeting := "Chào chị " + f[len(f)-1] + ", shop gửi chị mã giảm giá 50%"
	for i, m := range []string{"Lens Pharmacy", "Mỹ Phẩm Linh Chi"} {
		ref := fmt.Sprintf("o-%d", i+1)
		c.ok("order", "new", "--investigation", "q4", "--platform", "ShopA", "--merchant", m, "--account", "main", "--ref", ref)
		c.ok("order", "placed", ref, "--at", c.at(time.Minute))
		c.ok("order", "shipped", ref, "--courier", "FastExpress", "--at", c.at(time.Hour))
	}
	c.ok("contact", "add", "--channel", "chat", "--text", greeting, "--at", c.at(2*time.Hour))
	r := c.attribute()
	want := []string{"Lens Pharmacy", "Mỹ Phẩm Linh Chi", "ShopA"}
	if got := r.Contacts[0].Candidates; !slices.Equal(got, want) {
		t.Fatalf("candidates=%q, want %q (matched %+v)", got, want, r.Contacts[0].Matched)
	}
}

func TestContactBeforeShippingSparesCourier(t *testing.T) {
	c := world(t)
	c.json(new(orderOut), "order", "new", "--investigation", "q4", "--platform", "ShopA", "--merchant", "Lens Pharmacy", "--ref", "o-1")
	c.ok("order", "placed", "o-1", "--at", c.at(time.Minute), "--fact", "order_no=2610120001VN")
	c.ok("contact", "add", "--channel", "call", "--to", "+84 88 000 1111", "--at", c.at(2*time.Hour),
		"--text", "Alo, em gọi về đơn hàng 2610120001VN của chị bị hoàn")
	c.ok("order", "shipped", "o-1", "--courier", "GiaoNhanh", "--at", c.at(5*time.Hour))
	r := c.attribute()
	want := []string{"Lens Pharmacy", "ShopA"}
	if got := r.Contacts[0].Candidates; !slices.Equal(got, want) {
		t.Fatalf("candidates=%q, want %q", got, want)
	}
}

func (c *user) eml(to, subject, body string) string {
	tb := c.tb
	tb.Helper()
	c.now = c.now.Add(time.Hour)
	p := filepath.Join(tb.TempDir(), "msg.eml")
	raw := fmt.Sprintf("Received: from x by mx.canary.example; %s\r\nFrom: Scam <a@scam.example>\r\nTo: %s\r\nSubject: %s\r\n\r\n%s\r\n",
		c.now.Format(time.RFC1123Z), to, subject, body)
	if err := os.WriteFile(p, []byte(raw), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestUnissuedLocalPart(t *testing.T) {
	c := world(t)
	c.order("o-1", "Lens Pharmacy", "FastExpress", "prepaid")
	c.ok("ingest", "eml", c.eml("linh.tran.k7q2mxa@canary.example", "hello", "guess"))
	c.ok("ingest", "eml", c.eml("info@CANARY.example", "hello", "dictionary"))
	r := c.attribute()
	if len(r.Contacts) != 0 {
		t.Fatalf("investigation report lists %d unissued contacts, want 0", len(r.Contacts))
	}
	var all reportOut
	c.json(&all, "attribute")
	if len(all.Contacts) != 2 {
		t.Fatalf("contacts=%d, want 2", len(all.Contacts))
	}
	for _, ct := range all.Contacts {
		if ct.Status != "unissued" || len(ct.Candidates) != 0 {
			t.Fatalf("status=%q candidates=%q, want unissued and none", ct.Status, ct.Candidates)
		}
	}
}

func TestExclusiveSuspectedThenLeaked(t *testing.T) {
	c := world(t)
	imp := filepath.Join(t.TempDir(), "orders.json")
	body := `{"investigation": "q4", "locale": "vi-VN", "orders": [
	  {"ref": "o-1", "platform": "ShopA", "merchant": "Lens Pharmacy", "courier": "FastExpress", "placed_at": "` + c.at(time.Minute) + `",
	   "facts": {"item": "Kem A", "price": "100.000đ", "order_no": "2610120001VN"},
	   "exposures": {"courier app email": {"kind": "email", "to": ["FastExpress"]}}},
	  {"ref": "o-2", "platform": "ShopA", "merchant": "Mỹ Phẩm Linh Chi", "courier": "FastExpress", "placed_at": "` + c.at(time.Minute) + `",
	   "exposures": {"courier app email": {"kind": "email", "to": ["FastExpress"]}}}]}`
	if err := os.WriteFile(imp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c.ok("orders", "import", imp)
	var exp struct {
		Orders []orderOut `json:"orders"`
	}
	c.json(&exp, "orders", "export", "--investigation", "q4")
	if len(exp.Orders) != 2 {
		t.Fatalf("exported %d orders, want 2", len(exp.Orders))
	}
	c.ok("ingest", "eml", c.eml(exp.Orders[0].token(t, "courier app email"), "Giao hàng thất bại", "Xác nhận địa chỉ"))
	if got := c.attribute().verdict(t, "FastExpress"); got != "suspected/" {
		t.Fatalf("after one exclusive contact verdict=%q, want suspected", got)
	}
	// The same order again is not a second order.
	c.ok("ingest", "eml", c.eml(exp.Orders[0].token(t, "courier app email"), "Nhắc lại", "lần hai"))
	if got := c.attribute().verdict(t, "FastExpress"); got != "suspected/" {
		t.Fatalf("after two contacts on one order verdict=%q, want suspected", got)
	}
	c.ok("ingest", "eml", c.eml(exp.Orders[1].token(t, "courier app email"), "Parcel held", "pay the fee"))
	r := c.attribute()
	if got := r.verdict(t, "FastExpress"); got != "leaked/exclusive" {
		t.Fatalf("after exclusive contacts on two orders verdict=%q, want leaked/exclusive", got)
	}
	for _, p := range []string{"ShopA", "Lens Pharmacy", "Mỹ Phẩm Linh Chi"} {
		if v := r.verdict(t, p); strings.HasPrefix(v, "leaked") {
			t.Fatalf("innocent %s got %s", p, v)
		}
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	for _, tc := range []struct {
		name, sql, want string
	}{
		{"raw object byte", `DROP TRIGGER raw_objects_only_purge;
			UPDATE raw_objects SET bytes = CAST(replace(CAST(bytes AS TEXT), 'fee', 'fie') AS BLOB)`, "changed object"},
		{"chain entry", `DROP TRIGGER audit_log_no_update;
			UPDATE audit_log SET detail = replace(detail, 'FastExpress', 'GiaoNhanh') WHERE action = 'order shipped'`, "bad hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := world(t)
			c.order("o-1", "Lens Pharmacy", "FastExpress", "prepaid")
			c.ok("ingest", "eml", c.eml("x@canary.example", "s", "pay the fee"))
			if out := c.ok("verify"); !strings.Contains(out, "OK") {
				t.Fatalf("verify on an untouched database: %s", out)
			}
			db, err := sql.Open("sqlite", c.db)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(tc.sql); err != nil {
				t.Fatal(err)
			}
			db.Close()
			out, _, err := c.run("verify")
			if err == nil || !strings.Contains(out, tc.want) {
				t.Fatalf("verify after tampering: err=%v out=%s, want %q", err, out, tc.want)
			}
		})
	}
}

func TestBadInputGetsClearErrors(t *testing.T) {
	c := world(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"garbage json", []string{"orders", "import", write("g.json", "{\"investigation\": \"q4\",\n \"orders\": [,]}")}, "line 2"},
		{"unknown field", []string{"orders", "import", write("u.json", `{"investigation": "q4", "orders": [{"ref": "x", "platform": "ShopA", "couirer": "F"}]}`)}, "couirer"},
		{"unknown investigation", []string{"orders", "import", write("i.json", `{"investigation": "nope", "orders": [{"ref": "x", "platform": "ShopA"}]}`)}, "leaktrace investigation new"},
		{"bad phone", []string{"phone", "import", write("p.csv", "number\n0912345678\n12345\n")}, "line 3"},
		{"no header", []string{"phone", "import", write("h.csv", "0912345678\n")}, "header"},
		{"empty eml list", []string{"ingest", "eml"}, "one or more"},
		{"unknown party", []string{"order", "new", "--investigation", "q4", "--platform", "NoSuchShop"}, "leaktrace party add"},
		{"bad price", []string{"order", "placed", "o-1", "--at", c.at(time.Minute), "--fact", "price=cheap"}, "price"},
		{"mark unknown contact", []string{"contact", "mark", "999", "scam"}, "999"},
		{"not built", []string{"anchor", "--investigation", "q4"}, "not built yet"},
		{"placed in the future", []string{"order", "placed", "o-2", "--at", c.now.Add(48 * time.Hour).Format(time.RFC3339)}, "in the future"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			switch tc.name {
			case "bad price":
				c.ok("order", "new", "--investigation", "q4", "--platform", "ShopA", "--ref", "o-1")
			case "placed in the future":
				c.ok("order", "new", "--investigation", "q4", "--platform", "ShopA", "--ref", "o-2")
			}
			if got := c.fails(tc.args...); !strings.Contains(got, tc.want) {
				t.Fatalf("error=%q, want it to mention %q", got, tc.want)
			}
		})
	}
	var exp struct {
		Orders []orderOut `json:"orders"`
	}
	c.json(&exp, "orders", "export")
	if len(exp.Orders) != 2 {
		t.Fatalf("orders after failed imports=%d, want 2 (o-1 and o-2 made by hand)", len(exp.Orders))
	}
}

func TestEmptyAndHugeMessagesAreKept(t *testing.T) {
	c := world(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.eml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var huge bytes.Buffer
	huge.WriteString("To: nobody@canary.example\r\nSubject: big\r\nContent-Type: text/plain\r\n\r\n")
	for huge.Len() < 30<<20 {
		huge.WriteString("lorem ipsum dolor sit amet 0123456789 ")
	}
	hugePath := filepath.Join(dir, "huge.eml")
	if err := os.WriteFile(hugePath, huge.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	c.ok("ingest", "eml", empty, hugePath)
	var all reportOut
	c.json(&all, "attribute")
	if len(all.Contacts) != 2 {
		t.Fatalf("contacts=%d, want 2", len(all.Contacts))
	}
	if out := c.ok("verify"); !strings.Contains(out, "OK") {
		t.Fatalf("verify: %s", out)
	}
}

func TestDemo(t *testing.T) {
	c := newCLI(t)
	out := c.ok("demo")
	for _, want := range []string{
		"FastExpress", "leaked (exclusive)", "first_party", "unissued", "merged", "all intact",
		"明眸隐形眼镜旗舰店", "Mỹ Phẩm Linh Chi",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out)
		}
	}
	var r reportOut
	c.json(&r, "demo")
	for _, p := range r.Parties {
		if p.Name != "FastExpress" && p.Verdict == "leaked" {
			t.Fatalf("demo accuses %s", p.Name)
		}
	}
	if got := r.verdict(t, "FastExpress"); got != "leaked/exclusive" {
		t.Fatalf("demo FastExpress verdict=%q, want leaked/exclusive", got)
	}
}

// An international canary domain is issued at in its ASCII form, and the
// user is told which name that is.
func TestDomainAddInternationalName(t *testing.T) {
	c := newCLI(t)
	c.ok("init")
	out := c.ok("domain", "add", "Bücher.vn")
	if !strings.Contains(out, "xn--bcher-kva.vn") || !strings.Contains(out, "Bücher.vn") {
		t.Fatalf("domain add said %q, want both the ASCII form and the name given", out)
	}
	var ds struct{ Domains []struct{ Domain string } }
	c.json(&ds, "domain", "list")
	if len(ds.Domains) != 1 || ds.Domains[0].Domain != "xn--bcher-kva.vn" {
		t.Fatalf("domain list=%+v, want xn--bcher-kva.vn", ds)
	}
}
