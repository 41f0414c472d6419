package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/sqlite"
)

func TestOpenCreatesPrivateFile(t *testing.T) {
	db := MustOpenDB(t)
	if err := db.CreateInvestigation(context.Background(), &canary.Investigation{Name: "x"}); err != nil {
		t.Fatalf("CreateInvestigation: %v", err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		fi, err := os.Stat(db.Path() + suffix)
		if suffix != "" && errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatalf("stat: %v", err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Fatalf("mode of %s=%v, want %v", filepath.Base(db.Path()+suffix), got, os.FileMode(0o600))
		}
	}
}

func TestOpenMigratesOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	db := mustOpenPath(t, path)
	if err := db.CreateInvestigation(ctx, &canary.Investigation{Name: "kept"}); err != nil {
		t.Fatalf("CreateInvestigation: %v", err)
	}
	first := migrations(t, rawDB(t, db))
	if !strings.HasPrefix(first, "1 0001_init.sql ") {
		t.Fatalf("schema_migrations=%q, want version 1 (0001_init.sql) first", first)
	}
	db.Close()
	for i := 0; i < 2; i++ {
		// A migration run again would fail or record another time.
		db := mustOpenPath(t, path)
		if _, err := db.Investigation(ctx, "kept"); err != nil {
			t.Fatalf("re-open %d: Investigation: %v", i+1, err)
		}
		if got := migrations(t, rawDB(t, db)); got != first {
			t.Fatalf("re-open %d: schema_migrations=%q, want %q", i+1, got, first)
		}
		db.Close()
	}
}

// migrations returns schema_migrations as "version name applied_at" lines.
func migrations(tb testing.TB, raw *sql.DB) string {
	tb.Helper()
	rows, err := raw.Query(`SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		tb.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v int
		var name, at string
		if err := rows.Scan(&v, &name, &at); err != nil {
			tb.Fatalf("scan: %v", err)
		}
		out = append(out, fmt.Sprintf("%d %s %s", v, name, at))
	}
	return strings.Join(out, "\n")
}

func TestOpenPragmas(t *testing.T) {
	raw := rawDB(t, MustOpenDB(t))
	var mode string
	if err := raw.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatalf("journal_mode: %v", err)
	}
	if mode != "wal" {
		t.Fatalf("journal_mode=%q, want wal", mode)
	}
}

// TestOpenOddPaths opens databases whose paths hold characters that mean
// something in a URI: the file created must be the one SQLite uses.
func TestOpenOddPaths(t *testing.T) {
	for _, name := range []string{"case #3.db", "what?.db", "100%.db", "a%20b.db", "Hồ sơ.db", "x.db?mode=ro"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			db := mustOpenPath(t, path)
			if err := db.CreateInvestigation(context.Background(), &canary.Investigation{Name: "odd"}); err != nil {
				t.Fatalf("CreateInvestigation: %v", err)
			}
			db.Close()
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatalf("ReadDir: %v", err)
			}
			for _, e := range entries {
				if !strings.HasPrefix(e.Name(), name) {
					t.Fatalf("Open(%q) wrote %q", name, e.Name())
				}
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatalf("stat: %v", err)
			}
			if fi.Size() == 0 {
				t.Fatalf("%s is empty: SQLite wrote another file", name)
			}
			db2 := mustOpenPath(t, path)
			if _, err := db2.Investigation(context.Background(), "odd"); err != nil {
				t.Fatalf("re-open: Investigation: %v", err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	if _, err := sqlite.Open(ctx, "", log); !errors.Is(err, canary.ErrInvalid) {
		t.Fatalf("Open(\"\") err=%v, want ErrInvalid", err)
	}
	if _, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "no", "such", "dir", "x.db"), log); err == nil {
		t.Fatalf("Open(missing dir) err=nil, want an error")
	}
}

// Recorded stages, a number's exposure set, attachments and a party's
// sender identities cannot be rewritten, even with raw SQL.
func TestRecordGuards(t *testing.T) {
	db := MustOpenDB(t)
	raw, err := sql.Open("sqlite", db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{
		`DELETE FROM orders`, `DELETE FROM parties`, `DELETE FROM phones`, `DELETE FROM investigations`,
		`DELETE FROM accounts`, `DELETE FROM order_attachments`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s on empty tables: %v", q, err)
		}
	}
	if _, err := raw.Exec(`INSERT INTO phones (e164, imported_at, quarantine_until, bound_to) VALUES ('+84912000001', 'x', 'x', 'set:a')`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO parties (name, name_key, kind, added_at) VALUES ('ShopA', 'shopa', 'platform', 'x')`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO party_senders (party_id, kind, value) VALUES (1, 'domain', 'shopa.example')`); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE phones SET bound_to = 'set:b'`,
		`DELETE FROM phones`,
		`UPDATE party_senders SET value = 'other.example'`,
		`DELETE FROM party_senders`,
	} {
		if _, err := raw.Exec(q); err == nil {
			t.Fatalf("%s succeeded, want it refused", q)
		}
	}
}

func TestPlacedOrderStaysPlaced(t *testing.T) {
	f := newFixture(t, 5)
	ctx := context.Background()
	if _, _, err := f.db.CreateOrder(ctx, sqlite.OrderSpec{Investigation: invName, Ref: "o-1", Platform: "ShopA", PlacedAt: f.clock.now}); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", f.db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{
		`UPDATE orders SET placed_at = '2020-01-01T00:00:00.000000000Z'`,
		`UPDATE orders SET payment = 'cod'`,
		`DELETE FROM orders`,
	} {
		if _, err := raw.Exec(q); err == nil {
			t.Fatalf("%s succeeded, want it refused", q)
		}
	}
}

// An account's tokens belong to the records of the orders it used; an
// order abandoned before placing used nothing.
func TestAccountTokensSkipAbandonedOrders(t *testing.T) {
	f := newFixture(t, 5)
	ctx := context.Background()
	if _, _, _, err := f.db.CreateAccount(ctx, invName, "ShopA", "main"); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"o-1", "o-2"} {
		if _, _, err := f.db.CreateOrder(ctx, sqlite.OrderSpec{Investigation: invName, Ref: ref, Platform: "ShopA", Account: "main"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.db.AbandonOrder(ctx, invName, "o-2"); err != nil {
		t.Fatal(err)
	}
	toks, err := f.db.Tokens(ctx, invName)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range toks {
		if tk.Account == "main" && tk.Order == "" && !slices.Equal(tk.Orders, []string{"o-1"}) {
			t.Fatalf("account token %s orders=%q, want [o-1]", tk.Field, tk.Orders)
		}
	}
}
