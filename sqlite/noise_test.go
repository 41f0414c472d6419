package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/sqlite"
)

func TestPhoneNoise(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	if _, err := f.db.ImportPhones(ctx, strings.NewReader("number\n0912000001\n"), "q.csv", "VN", 30*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.ImportPhones(ctx, strings.NewReader("number\n0912000002\n"), "nq.csv", "VN", 0); err != nil {
		t.Fatal(err)
	}
	imported := f.clock.now
	contact := func(day int, to string, unissued bool) {
		t.Helper()
		c := &canary.Contact{Channel: canary.ChannelSMS, Source: "test", To: []string{to}, ReceivedAt: imported.Add(time.Duration(day)*24*time.Hour + time.Hour)}
		if unissued {
			c.Unissued = []string{to}
		}
		if _, _, err := f.db.RecordContact(ctx, c, []byte(fmt.Sprintf("sms %s day %d %v", to, day, unissued))); err != nil {
			t.Fatal(err)
		}
	}
	contact(1, "+84912000001", true)
	contact(2, "+84912000001", true)
	contact(5, "+84912000001", false)
	contact(40, "+84912000001", false) // after quarantine: not noise
	contact(3, "+84912000002", true)
	contact(4, "+84912000002", false) // reached a token: not noise
	f.clock.Set(imported.Add(60 * 24 * time.Hour))
	noise, err := f.db.PhoneNoise(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := noise["+84912000001"]
	if q.Contacts != 3 || q.Window != "quarantine" || q.Days != 30 || q.PerDay != 0.1 {
		t.Fatalf("quarantined number: %+v, want 3 contacts over 30 days of quarantine", q)
	}
	nq := noise["+84912000002"]
	if nq.Contacts != 1 || nq.Window != "since import" || nq.Days != 60 {
		t.Fatalf("number never quarantined: %+v, want 1 unissued contact over 60 days since import", nq)
	}
	// While the quarantine lasts, the rate is over the days so far.
	f.clock.Set(imported.Add(10 * 24 * time.Hour))
	noise, err = f.db.PhoneNoise(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if q := noise["+84912000001"]; q.Contacts != 3 || q.Days != 10 {
		t.Fatalf("during quarantine: %+v, want 3 contacts over 10 days", q)
	}
}

func TestRetirePhone(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 1)
	ps, err := f.db.Phones(ctx)
	if err != nil || len(ps) != 1 {
		t.Fatalf("Phones=%v, %v", ps, err)
	}
	e := ps[0].E164
	if err := f.db.RetirePhone(ctx, e, "SIM lost"); err != nil {
		t.Fatal(err)
	}
	if err := f.db.RetirePhone(ctx, e, "again"); !errors.Is(err, canary.ErrInvalid) {
		t.Fatalf("retire twice=%v, want ErrInvalid", err)
	}
	if err := f.db.RetirePhone(ctx, "+84999999999", ""); !errors.Is(err, canary.ErrNotFound) {
		t.Fatalf("retire unknown=%v, want ErrNotFound", err)
	}
	ps, _ = f.db.Phones(ctx)
	if ps[0].RetiredAt.IsZero() {
		t.Fatalf("RetiredAt is zero after RetirePhone")
	}
	o, _ := f.mustCreateOrder(t, sqlite.OrderSpec{Ref: "o-1", Platform: "ShopA", Merchant: "Lens Pharmacy", Courier: "FastExpress"})
	for _, tok := range o.Tokens {
		if tok.Kind == canary.TokenPhone && tok.Value == e {
			t.Fatalf("retired number %s was issued as %s", e, tok.Field)
		}
	}
}
