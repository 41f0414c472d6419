package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leaktrace/leaktrace/ingest"
)

// readMbox returns every message of data, checking the invariants every
// split must keep: ranges in order, inside the file, not overlapping, and
// each message's bytes exactly the file's bytes in its range.
func readMbox(tb testing.TB, data []byte, max int64) ([]*ingest.MboxMessage, error) {
	tb.Helper()
	mr := ingest.NewMboxReader(bytes.NewReader(data), max)
	var out []*ingest.MboxMessage
	prevEnd := int64(0)
	for {
		m, err := mr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if m.Start < prevEnd || m.End < m.Start || m.End > int64(len(data)) {
			tb.Fatalf("message %d: range %d-%d after %d in a file of %d bytes", len(out), m.Start, m.End, prevEnd, len(data))
		}
		if !m.TooLarge && !bytes.Equal(m.Raw, data[m.Start:m.End]) {
			tb.Fatalf("message %d: Raw=%q, want the file's bytes %q", len(out), m.Raw, data[m.Start:m.End])
		}
		if m.TooLarge && m.Raw != nil {
			tb.Fatalf("message %d: too large but Raw kept", len(out))
		}
		prevEnd = m.End
		out = append(out, m)
		if len(out) > len(data)+1 {
			tb.Fatalf("more messages than bytes")
		}
	}
}

func TestMboxReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // each message's Raw
		err  error
	}{
		{"empty file", "", nil, nil},
		{"only blank lines", "\n\n", nil, nil},
		{"not an mbox", "Subject: hi\n\nbody\n", nil, ingest.ErrNotMbox},
		{"one message", "From a@b Mon Nov  2 10:00:00 2026\nTo: x@y\n\nbody\n", []string{"To: x@y\n\nbody\n"}, nil},
		{"one message, trailing blank line belongs to the writer", "From a@b Mon Nov  2 10:00:00 2026\nTo: x@y\n\nbody\n\n", []string{"To: x@y\n\nbody\n"}, nil},
		{"two messages", "From a@b Mon Nov  2 10:00:00 2026\nTo: x@y\n\none\n\nFrom c@d Mon Nov  2 11:00:00 2026\nTo: z@y\n\ntwo\n",
			[]string{"To: x@y\n\none\n", "To: z@y\n\ntwo\n"}, nil},
		{"escaped From stays escaped", "From a@b Mon Nov  2 10:00:00 2026\nTo: x@y\n\n>From here\n", []string{"To: x@y\n\n>From here\n"}, nil},
		{"unescaped From in the body without a date is body", "From a@b Mon Nov  2 10:00:00 2026\nTo: x@y\n\nhi\n\nFrom here on, call us\n",
			[]string{"To: x@y\n\nhi\n\nFrom here on, call us\n"}, nil},
		{"separator without a blank line before it", "From a@b Mon Nov  2 10:00:00 2026\nTo: x@y\nFrom c@d Mon Nov  2 11:00:00 2026\nTo: z@y\n",
			[]string{"To: x@y\n", "To: z@y\n"}, nil},
		{"loose date after a blank line", "From a@b Mon Nov  2 10:00:00 2026\nTo: x@y\n\nFrom c@d 2026-11-02 11:00:00\nTo: z@y\n",
			[]string{"To: x@y\n", "To: z@y\n"}, nil},
		{"crlf", "From a@b Mon Nov  2 10:00:00 2026\r\nTo: x@y\r\n\r\none\r\n\r\nFrom c@d Mon Nov  2 11:00:00 2026\r\nTo: z@y\r\n\r\ntwo",
			[]string{"To: x@y\r\n\r\none\r\n", "To: z@y\r\n\r\ntwo"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := readMbox(t, []byte(tt.in), 1<<20)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err=%v, want %v", err, tt.err)
			}
			var got []string
			for _, m := range msgs {
				got = append(got, string(m.Raw))
			}
			if strings.Join(got, "\x00") != strings.Join(tt.want, "\x00") || len(got) != len(tt.want) {
				t.Fatalf("messages=%q, want %q", got, tt.want)
			}
		})
	}
}

func TestMboxReaderLimits(t *testing.T) {
	in := "From a@b Mon Nov  2 10:00:00 2026\nTo: x@y\n\n" + strings.Repeat("long line without a break ", 10000) + "\n\nFrom c@d Mon Nov  2 11:00:00 2026\nTo: z@y\n\nsmall\n"
	msgs, err := readMbox(t, []byte(in), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || !msgs[0].TooLarge || msgs[1].TooLarge || string(msgs[1].Raw) != "To: z@y\n\nsmall\n" {
		t.Fatalf("got %d messages, first TooLarge=%v; want the large one flagged and the small one whole", len(msgs), len(msgs) > 0 && msgs[0].TooLarge)
	}
}

func TestIngestMbox(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"two.mbox", "crlf.mbox", "noblank.mbox"} {
		t.Run(name, func(t *testing.T) {
			path, err := filepath.Abs(filepath.Join("testdata", "mbox", name))
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			in, db := imapTestDB(t)
			var results []ingest.FileResult
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := in.Mbox(ctx, f, path, 1<<20, func(r ingest.FileResult) error { results = append(results, r); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(results) != 2 {
				t.Fatalf("results=%d, want 2", len(results))
			}
			for _, r := range results {
				if r.Recorded == nil || r.Recorded.Duplicate {
					t.Fatalf("%s: not recorded as new (skipped %q)", r.Where, r.Skipped)
				}
				var start, end int
				if _, err := fmtSscanRange(r.Where, path, &start, &end); err != nil {
					t.Fatalf("Where=%q: %v", r.Where, err)
				}
				back, err := db.RawObject(ctx, r.Recorded.Contact.RawSHA256)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(back, data[start:end]) {
					t.Fatalf("%s: stored bytes differ from the file's bytes in that range", r.Where)
				}
				if r.Recorded.Contact.Source != r.Where {
					t.Fatalf("Source=%q, want %q", r.Recorded.Contact.Source, r.Where)
				}
			}
			// A second import finds every message already held.
			f2, _ := os.Open(path)
			defer f2.Close()
			if err := in.Mbox(ctx, f2, path, 1<<20, func(r ingest.FileResult) error {
				if r.Recorded == nil || !r.Recorded.Duplicate {
					t.Fatalf("%s: second import not a duplicate", r.Where)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// fmtSscanRange reads "mbox:PATH#START-END".
func fmtSscanRange(where, path string, start, end *int) (int, error) {
	rest, ok := strings.CutPrefix(where, "mbox:"+path+"#")
	if !ok {
		return 0, errors.New("not mbox:PATH#START-END")
	}
	a, b, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, errors.New("no range")
	}
	var err error
	if *start, err = atoiStrict(a); err != nil {
		return 0, err
	}
	if *end, err = atoiStrict(b); err != nil {
		return 0, err
	}
	return 2, nil
}

func atoiStrict(s string) (int, error) {
	n := 0
	if s == "" {
		return 0, errors.New("empty number")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, errors.New("not a number: " + s)
		}
		n = n*10 + int(r-'0')
	}
	return n, nil
}

func FuzzMboxReader(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "mbox", "*.mbox"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, int64(1<<20))
		f.Add(b, int64(20))
	}
	f.Add([]byte("From x Mon Nov  2 10:00:00 2026\n\n\n\n"), int64(5))
	f.Fuzz(func(t *testing.T, data []byte, max int64) {
		if max <= 0 || max > 1<<20 {
			max = 1 << 20
		}
		first, err1 := readMbox(t, data, max)
		second, err2 := readMbox(t, data, max)
		if (err1 == nil) != (err2 == nil) || len(first) != len(second) {
			t.Fatalf("not deterministic: %d/%v then %d/%v", len(first), err1, len(second), err2)
		}
		for i := range first {
			if first[i].Start != second[i].Start || first[i].End != second[i].End {
				t.Fatalf("message %d: ranges differ between runs", i)
			}
		}
	})
}

func TestIngestMaildir(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	files := map[string]string{
		"cur/1700000000.1.host:2,S":   scamMail(1, "a@canary.example"),
		"new/1700000001.2.host":       scamMail(2, "b@canary.example"),
		"tmp/1700000002.3.host":       scamMail(3, "being-delivered@canary.example"),
		".Junk/cur/1700000003.4.host": scamMail(4, "junk@canary.example"),
		".Junk/maildirfolder":         "",
		"cur/.hidden":                 "not a message",
		"new/empty":                   "",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, ".Junk", "new"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := listTree(t, root)
	in, db := imapTestDB(t)
	recorded, skipped := 0, 0
	if err := in.Maildir(ctx, root, 1<<20, func(r ingest.FileResult) error {
		if r.Recorded != nil {
			recorded++
		} else {
			skipped++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if recorded != 3 || skipped != 1 {
		t.Fatalf("recorded=%d skipped=%d, want 3 (cur, new, .Junk/cur) and 1 (the empty file)", recorded, skipped)
	}
	if after := listTree(t, root); after != before {
		t.Fatalf("the Maildir changed:\n%s\nwant\n%s", after, before)
	}
	cs, err := db.Contacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if !strings.HasPrefix(c.Source, "maildir:"+root) {
			t.Fatalf("Source=%q, want maildir:%s...", c.Source, root)
		}
	}
	if err := in.Maildir(ctx, t.TempDir(), 1<<20, nil); err == nil || !strings.Contains(err.Error(), "not a Maildir") {
		t.Fatalf("Maildir(empty dir)=%v, want 'not a Maildir'", err)
	}
}

// listTree describes every file under root with its size and mode time.
func listTree(tb testing.TB, root string) string {
	tb.Helper()
	var b strings.Builder
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + " " + fi.Mode().String() + " " + fi.ModTime().String() + "\n")
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return b.String()
}
