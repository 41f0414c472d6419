package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/sqlite"
)

// t0 is the test clock's start: every test begins at the same instant.
var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// clock is a test clock the tests move by hand.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) Set(t time.Time)         { c.now = t }
func (c *clock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// MustOpenDB opens a fresh database under tb.TempDir() with a reproducible
// random source and a clock fixed at t0, and closes it when the test ends.
func MustOpenDB(tb testing.TB) *sqlite.DB {
	tb.Helper()
	return mustOpenPath(tb, filepath.Join(tb.TempDir(), "leaktrace.db"))
}

func mustOpenPath(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() { db.Close() })
	var seed [32]byte
	copy(seed[:], tb.Name())
	db.Rand = rand.NewChaCha8(seed)
	c := &clock{now: t0}
	db.Now = c.Now
	return db
}

// mustClock replaces db's clock with one the test moves.
func mustClock(tb testing.TB, db *sqlite.DB) *clock {
	tb.Helper()
	c := &clock{now: t0}
	db.Now = c.Now
	return c
}

// rawDB opens db's file a second time through database/sql, as an attacker
// or a curious user with the sqlite3 CLI would: no foreign keys, no triggers
// of ours beyond those in the schema.
func rawDB(tb testing.TB, db *sqlite.DB) *sql.DB {
	tb.Helper()
	path := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(db.Path())
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		tb.Fatalf("open raw: %v", err)
	}
	tb.Cleanup(func() { raw.Close() })
	return raw
}

func mustExec(tb testing.TB, raw *sql.DB, query string, args ...any) {
	tb.Helper()
	if _, err := raw.Exec(query, args...); err != nil {
		tb.Fatalf("exec %q: %v", query, err)
	}
}

func count(tb testing.TB, raw *sql.DB, table string) int {
	tb.Helper()
	var n int
	if err := raw.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		tb.Fatalf("count %s: %v", table, err)
	}
	return n
}

// allTables are every table a write may touch.
var allTables = []string{"investigations", "parties", "party_senders", "domains", "phones", "accounts", "orders",
	"tokens", "exposures", "raw_objects", "order_attachments", "contacts", "matches", "marks", "audit_log"}

// counts returns the row count of every table.
func counts(tb testing.TB, raw *sql.DB) map[string]int {
	tb.Helper()
	m := map[string]int{}
	for _, t := range allTables {
		m[t] = count(tb, raw, t)
	}
	return m
}

func sameCounts(tb testing.TB, before, after map[string]int) {
	tb.Helper()
	for _, t := range allTables {
		if before[t] != after[t] {
			tb.Fatalf("rows in %s=%d after the failed call, want %d", t, after[t], before[t])
		}
	}
}

// fixture is a database with one Vietnamese investigation, a canary domain,
// parties and a phone pool out of quarantine.
type fixture struct {
	db    *sqlite.DB
	clock *clock
	inv   *canary.Investigation
}

const (
	invName     = "q4-cosmetics"
	baseAddress = "12 Lý Thường Kiệt, Hoàn Kiếm, Hà Nội"
)

func newFixture(tb testing.TB, phones int) *fixture {
	tb.Helper()
	ctx := context.Background()
	db := MustOpenDB(tb)
	f := &fixture{db: db, clock: mustClock(tb, db)}
	f.inv = &canary.Investigation{Name: invName, Locale: canary.LocaleVietnam, Address: baseAddress}
	if err := db.CreateInvestigation(ctx, f.inv); err != nil {
		tb.Fatalf("CreateInvestigation: %v", err)
	}
	if err := db.AddDomain(ctx, &canary.Domain{Name: "canary.example"}); err != nil {
		tb.Fatalf("AddDomain: %v", err)
	}
	for _, p := range []canary.Party{
		{Name: "ShopA", Kind: canary.KindPlatform, Domains: []string{"shopa.example"}},
		{Name: "ShopB", Kind: canary.KindPlatform},
		{Name: "Lens Pharmacy", Kind: canary.KindMerchant},
		{Name: "Beauty Corner", Kind: canary.KindMerchant},
		{Name: "FastExpress", Kind: canary.KindCourier, Senders: []string{"FASTEXP"}},
		{Name: "SlowPost", Kind: canary.KindCourier},
	} {
		if err := db.AddParty(ctx, &p); err != nil {
			tb.Fatalf("AddParty(%s): %v", p.Name, err)
		}
	}
	if phones > 0 {
		f.importPhones(tb, phones, 0, 0)
	}
	f.clock.Advance(time.Hour)
	return f
}

// phoneCSV returns a pool file of n Vietnamese mobile numbers from first.
func phoneCSV(first, n int) string {
	var b strings.Builder
	b.WriteString("number,provider,label\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "0912%06d,Vinaphone,sim %d\n", first+i, first+i)
	}
	return b.String()
}

func (f *fixture) importPhones(tb testing.TB, n, first int, quarantine time.Duration) *sqlite.PhoneImport {
	tb.Helper()
	res, err := f.db.ImportPhones(context.Background(), strings.NewReader(phoneCSV(first, n)), "pool.csv", "VN", quarantine)
	if err != nil {
		tb.Fatalf("ImportPhones: %v", err)
	}
	return res
}

func (f *fixture) mustCreateOrder(tb testing.TB, spec sqlite.OrderSpec) (*canary.Order, []string) {
	tb.Helper()
	if spec.Investigation == "" {
		spec.Investigation = invName
	}
	o, warn, err := f.db.CreateOrder(context.Background(), spec)
	if err != nil {
		tb.Fatalf("CreateOrder(%s): %v", spec.Ref, err)
	}
	return o, warn
}

// token returns the order's token of field, failing the test if there is none.
func token(tb testing.TB, o *canary.Order, field string) canary.Token {
	tb.Helper()
	for _, t := range o.Tokens {
		if t.Field == field {
			return t
		}
	}
	tb.Fatalf("order %s has no %s token", o.Ref, field)
	return canary.Token{}
}

func hasToken(o *canary.Order, field string) bool {
	for _, t := range o.Tokens {
		if t.Field == field {
			return true
		}
	}
	return false
}

// exposure returns when party was shown t, and whether it was.
func exposure(t canary.Token, party string) (time.Time, bool) {
	for _, e := range t.Exposures {
		if e.Party == party {
			return e.ExposedAt, true
		}
	}
	return time.Time{}, false
}

// exposedTo returns the sorted parties that were fully shown t.
func exposedTo(t canary.Token) string {
	seen := t.SeenBy(time.Time{})
	slices.Sort(seen)
	return strings.Join(seen, ",")
}
