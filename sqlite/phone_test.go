package sqlite_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/sqlite"
)

func TestImportPhones(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	csv := "\ufeffNumber,provider,label\n" +
		"0912 345 678,Vinaphone,spare SIM\n" +
		"+84 913 000 111\n" +
		"\n" +
		"0914.000.222, Viettel ,  virtual \n"
	res, err := f.db.ImportPhones(ctx, strings.NewReader(csv), "pool.csv", "VN", 30*24*time.Hour)
	if err != nil {
		t.Fatalf("ImportPhones: %v", err)
	}
	if res.Imported != 3 {
		t.Fatalf("Imported=%d, want 3", res.Imported)
	}
	if want := f.clock.now.Add(30 * 24 * time.Hour); !res.QuarantineUntil.Equal(want) {
		t.Fatalf("QuarantineUntil=%v, want %v", res.QuarantineUntil, want)
	}
	phones, err := f.db.Phones(ctx)
	if err != nil {
		t.Fatalf("Phones: %v", err)
	}
	var got []string
	for _, p := range phones {
		got = append(got, p.E164+"|"+p.Provider+"|"+p.Label)
		if p.BoundTo != "" || p.Orders != 0 {
			t.Fatalf("fresh phone %s BoundTo=%q Orders=%d, want free", p.E164, p.BoundTo, p.Orders)
		}
	}
	want := "+84912345678|Vinaphone|spare SIM,+84913000111||,+84914000222|Viettel|virtual"
	if strings.Join(got, ",") != want {
		t.Fatalf("Phones=%q, want %q", strings.Join(got, ","), want)
	}
}

func TestImportPhonesRejectsAll(t *testing.T) {
	for _, tc := range []struct {
		name, csv string
		want      []string // in the error message
	}{
		{"not a number", "number\n0912000001\n12345\n0912000002\n", []string{"line 3", "12345"}},
		{"letters", "number\n0912000001\n0912abc678\n", []string{"line 3"}},
		{"duplicate in file", "number\n0912000001\n0912000002\n+84 912 000 001\n", []string{"line 4", "repeats line 2"}},
		{"already in pool", "number\n0912000003\n0912999000\n", []string{"line 3", "+84912999000", "already in the pool"}},
		{"missing header", "0912000001\n0912000002\n", []string{"line 1", "header"}},
		{"empty file", "", []string{"no numbers"}},
		{"header only", "number,provider,label\n", []string{"no numbers"}},
		{"too many columns", "number\n0912000001,a,b,c\n", []string{"line 2", "4 columns"}},
		{"bad quoting", "number\n0912000001\n\"0912000002\n", []string{"pool.csv"}},
		{"stray quote", "number\n0912000001\n09120\"00002\n", []string{"pool.csv"}},
		{"foreign number", "number\n0912000001\n+1 202 555 0100x\n", []string{"line 3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 0)
			ctx := context.Background()
			if _, err := f.db.ImportPhones(ctx, strings.NewReader("number\n0912999000\n"), "old.csv", "VN", 0); err != nil {
				t.Fatalf("ImportPhones(old): %v", err)
			}
			raw := rawDB(t, f.db)
			before := counts(t, raw)
			_, err := f.db.ImportPhones(ctx, strings.NewReader(tc.csv), "pool.csv", "VN", 0)
			if !errors.Is(err, canary.ErrInvalid) {
				t.Fatalf("ImportPhones err=%v, want ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("err=%q, want it to mention %q", err, w)
				}
			}
			sameCounts(t, before, counts(t, raw))
		})
	}
}

func TestQuarantinedPhonesAreNotAllocated(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	until := f.importPhones(t, 3, 0, 30*24*time.Hour).QuarantineUntil
	spec := sqlite.OrderSpec{Ref: "o-1", Platform: "ShopA", Merchant: "Lens Pharmacy"}
	o, warn := f.mustCreateOrder(t, spec)
	if hasToken(o, canary.FieldShippingPhone) || hasToken(o, canary.FieldAccountPhone) {
		t.Fatalf("order %s got a phone token from a quarantined pool: %+v", o.Ref, o.Tokens)
	}
	if !strings.Contains(strings.Join(warn, "\n"), "no "+canary.FieldShippingPhone+" token") {
		t.Fatalf("warnings=%q, want one about the missing %s", warn, canary.FieldShippingPhone)
	}
	// One second before the quarantine ends: still nothing.
	f.clock.Set(until.Add(-time.Second))
	spec.Ref = "o-2"
	if o, _ := f.mustCreateOrder(t, spec); hasToken(o, canary.FieldShippingPhone) {
		t.Fatalf("order o-2 got a phone before quarantine ended")
	}
	f.clock.Set(until)
	spec.Ref = "o-3"
	o, warn = f.mustCreateOrder(t, spec)
	if !hasToken(o, canary.FieldShippingPhone) || !hasToken(o, canary.FieldAccountPhone) {
		t.Fatalf("order o-3 has no phone after quarantine (warnings %q)", warn)
	}
	phones, err := f.db.Phones(ctx)
	if err != nil {
		t.Fatalf("Phones: %v", err)
	}
	bound := 0
	for _, p := range phones {
		if p.BoundTo != "" {
			bound++
		}
	}
	if bound != 2 {
		t.Fatalf("%d phones bound, want 2 (account phone, shipping phone)", bound)
	}
}

func TestPhonesOfOtherCountriesAreNotAllocated(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	if _, err := f.db.ImportPhones(ctx, strings.NewReader("number\n+86 138 0013 8000\n+1 202 555 0143\n"), "cn.csv", "VN", 0); err != nil {
		t.Fatalf("ImportPhones: %v", err)
	}
	f.clock.Advance(time.Hour)
	o, _ := f.mustCreateOrder(t, sqlite.OrderSpec{Ref: "o-1", Platform: "ShopA", Merchant: "Lens Pharmacy"})
	if hasToken(o, canary.FieldShippingPhone) {
		t.Fatalf("a Vietnamese order got %s", token(t, o, canary.FieldShippingPhone).Value)
	}
}
