package ingest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leaktrace/leaktrace/attribution"
	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/ingest"
	"github.com/leaktrace/leaktrace/sqlite"
)

func newIngester(tb testing.TB) (*ingest.Ingester, *sqlite.DB) {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "t.db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.AddDomain(context.Background(), &canary.Domain{Name: "canary.example"}); err != nil {
		tb.Fatal(err)
	}
	u, err := db.Universe(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return &ingest.Ingester{Store: db, Matcher: attribution.NewMatcher(u), Limits: ingest.DefaultLimits()}, db
}

// Every real and malformed message of the shared corpora is stored byte
// for byte and recorded as a contact, whatever state it is in.
func TestCorporaStoredByteIdentical(t *testing.T) {
	var files []string
	for _, dir := range []string{"../../shared/corpora/mime-malformed", "../../shared/corpora/real-mail"} {
		if _, err := os.Stat(dir); err != nil {
			t.Skipf("shared corpora not found at %s (CI keeps ../shared beside the checkout): %v", dir, err)
		}
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			base := d.Name()
			if strings.HasSuffix(base, ".md") || strings.HasPrefix(base, "LICENSE") || strings.HasPrefix(base, "COPYING") || strings.Contains(base, "LICENSE") {
				return nil
			}
			files = append(files, p)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	in, db := newIngester(t)
	ctx := context.Background()
	stored := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		before := bytes.Clone(raw)
		rec, err := in.Email(ctx, raw, "eml:"+f, nil)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !bytes.Equal(raw, before) {
			t.Fatalf("%s: ingest modified its input", f)
		}
		sum := sha256.Sum256(raw)
		if rec.Contact.RawSHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("%s: raw_sha256=%s, want %x", f, rec.Contact.RawSHA256, sum)
		}
		back, err := db.RawObject(ctx, rec.Contact.RawSHA256)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !bytes.Equal(back, raw) {
			t.Fatalf("%s: stored bytes differ from the file", f)
		}
		if !rec.Duplicate {
			stored++
		}
	}
	contacts, err := db.Contacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(contacts) != stored {
		t.Fatalf("contacts=%d, want %d", len(contacts), stored)
	}
	rep, err := db.Verify(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("verify after the corpora: %+v", rep.Problems)
	}
	t.Logf("%d files, %d contacts stored byte-identical", len(files), stored)
}

func TestSameBytesAreOneContact(t *testing.T) {
	in, _ := newIngester(t)
	raw := []byte("To: x@canary.example\r\nSubject: hi\r\n\r\nbody\r\n")
	a, err := in.Email(context.Background(), raw, "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := in.Email(context.Background(), raw, "b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Duplicate || b.Contact.ID != a.Contact.ID {
		t.Fatalf("second copy: duplicate=%v id=%d, want true and %d", b.Duplicate, b.Contact.ID, a.Contact.ID)
	}
	if len(a.Contact.Unissued) != 1 || a.Contact.Unissued[0] != "x@canary.example" {
		t.Fatalf("unissued=%q, want [x@canary.example]", a.Contact.Unissued)
	}
}

func TestTextContactNeedsSomething(t *testing.T) {
	in, _ := newIngester(t)
	for _, tc := range []ingest.TextContact{
		{Channel: "fax", To: "x", Text: "y"},
		{Channel: canary.ChannelEmail, To: "x", Text: "y"},
		{Channel: canary.ChannelSMS},
	} {
		if _, err := in.Text(context.Background(), tc); err == nil {
			t.Fatalf("Text(%+v) succeeded, want an error", tc)
		}
	}
}
