package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/sqlite"
)

func openBatchDB(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "b.db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Concurrent callers share transactions; each gets its own contact, and
// identical bytes (within a batch or across batches) are one contact.
func TestBatcherConcurrent(t *testing.T) {
	db := openBatchDB(t)
	b := db.NewBatcher(nil, sqlite.BatchOptions{MaxContacts: 7})
	const callers, each = 16, 20
	ids := make([][]int64, callers)
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				raw := fmt.Appendf(nil, "message %d-%d", i, j)
				if j == 0 {
					raw = []byte("the same bytes from everyone")
				}
				c := &canary.Contact{Channel: canary.ChannelEmail, Source: "test"}
				id, _, err := b.RecordContact(context.Background(), c, raw)
				if err != nil {
					errs <- err
					return
				}
				ids[i] = append(ids[i], id)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	cs, err := db.Contacts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(cs), callers*(each-1)+1; got != want {
		t.Fatalf("contacts=%d, want %d", got, want)
	}
	first := ids[0][0]
	for i := range callers {
		if ids[i][0] != first {
			t.Fatalf("caller %d got contact %d for the shared bytes, want %d", i, ids[i][0], first)
		}
	}
	rep, err := db.Verify(context.Background(), "")
	if err != nil || !rep.OK {
		t.Fatalf("verify=%+v (%v), want OK", rep, err)
	}
	if _, _, err := b.RecordContact(context.Background(), &canary.Contact{Channel: canary.ChannelEmail, Source: "late"}, []byte("x")); !errors.Is(err, sqlite.ErrBatcherClosed) {
		t.Fatalf("after Close: err=%v, want ErrBatcherClosed", err)
	}
}

// A contact that fails leaves the others of its batch committed.
func TestBatcherFailureIsolated(t *testing.T) {
	db := openBatchDB(t)
	b := db.NewBatcher(nil, sqlite.BatchOptions{})
	defer b.Close()
	var wg sync.WaitGroup
	results := make([]error, 10)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch := canary.ChannelEmail
			if i%3 == 0 {
				ch = "carrier-pigeon" // refused by the schema's CHECK
			}
			_, _, results[i] = b.RecordContact(context.Background(), &canary.Contact{Channel: ch, Source: "test"}, fmt.Appendf(nil, "m%d", i))
		}()
	}
	wg.Wait()
	stored := 0
	for i, err := range results {
		if (i%3 == 0) != (err != nil) {
			t.Fatalf("contact %d: err=%v", i, err)
		}
		if err == nil {
			stored++
		}
	}
	cs, err := db.Contacts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != stored {
		t.Fatalf("contacts=%d, want %d", len(cs), stored)
	}
	// Entries of rolled-back contacts are gone; the chain must not point
	// at them.
	rep, err := db.Verify(context.Background(), "")
	if err != nil || !rep.OK {
		t.Fatalf("verify after a batch with failures: %+v err=%v", rep, err)
	}
}

// Callers that stop waiting, at any moment and whether or not the lead
// was just handed to them, leave no one stuck: every call returns, Close
// returns, and each contact acknowledged (nil error) is stored exactly once.
func TestBatcherCallersGiveUp(t *testing.T) {
	db := openBatchDB(t)
	b := db.NewBatcher(nil, sqlite.BatchOptions{MaxContacts: 3})
	const callers, each = 24, 15
	var acked atomic.Int64
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				ctx, cancel := context.WithCancel(context.Background())
				if (i+j)%2 == 0 {
					// Cancelled at once, or while queued or leading
					// (a commit takes a few milliseconds).
					go func() {
						time.Sleep(time.Duration(rand.IntN(4000)) * time.Microsecond)
						cancel()
					}()
				}
				_, dup, err := b.RecordContact(ctx, &canary.Contact{Channel: canary.ChannelEmail, Source: "test"}, fmt.Appendf(nil, "m%d-%d", i, j))
				cancel()
				if err == nil && !dup {
					acked.Add(1)
				}
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("caller %d contact %d: %v", i, j, err)
				}
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); b.Close(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(time.Minute):
		t.Fatal("callers or Close still waiting after a minute: the lead was lost")
	}
	if n := b.LeaderOverlaps(); n != 0 {
		t.Fatalf("two callers led at once %d times", n)
	}
	cs, err := db.Contacts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(cs)) < acked.Load() || len(cs) > callers*each {
		t.Fatalf("stored %d contacts, acknowledged %d: every acknowledged one must be stored", len(cs), acked.Load())
	}
	if rep, err := db.Verify(context.Background(), ""); err != nil || !rep.OK {
		t.Fatalf("verify=%+v (%v), want OK", rep, err)
	}
}

// A key already held makes a delivery a duplicate, whatever its bytes.
func TestBatcherKeyed(t *testing.T) {
	db := openBatchDB(t)
	b := db.NewBatcher(nil, sqlite.BatchOptions{})
	defer b.Close()
	ctx := context.Background()
	id1, dup1, err := b.RecordContactKeyed(ctx, "twilio:sms:SM1", &canary.Contact{Channel: canary.ChannelSMS, Source: "t"}, []byte("first delivery"))
	if err != nil || dup1 {
		t.Fatalf("first: dup=%v err=%v", dup1, err)
	}
	id2, dup2, err := b.RecordContactKeyed(ctx, "twilio:sms:SM1", &canary.Contact{Channel: canary.ChannelSMS, Source: "t"}, []byte("retry, other headers"))
	if err != nil || !dup2 || id2 != id1 {
		t.Fatalf("retry: id=%d dup=%v err=%v, want duplicate of %d", id2, dup2, err, id1)
	}
	cs, _ := db.Contacts(ctx)
	if len(cs) != 1 {
		t.Fatalf("contacts=%d, want 1", len(cs))
	}
}

// BenchmarkBatcher measures the writer alone: a 2 KB contact like the ones
// serve receives, recorded durably, from one caller and from eight.
func BenchmarkBatcher(b *testing.B) {
	body := make([]byte, 2048)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	auth := `{"envelope":{"mail_from":"a@sender.example","rcpt_to":["x@canary.example"],"helo":"client.test","peer":"127.0.0.1:40000","tls":false},"received":[],"dkim_signatures":0,"dkim":[],"dns":[]}`
	for _, callers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			db := openBatchDB(b)
			bt := db.NewBatcher(nil, sqlite.BatchOptions{})
			defer bt.Close()
			var next atomic.Int64
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			var wg sync.WaitGroup
			for range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						raw := append(fmt.Appendf(nil, "Subject: %d\r\n\r\n", i), body...)
						c := &canary.Contact{Channel: canary.ChannelEmail, Source: "smtp", From: "a@sender.example",
							To: []string{"x@canary.example"}, Subject: "Your order", Unissued: []string{"x@canary.example"}, Auth: auth}
						if _, _, err := bt.RecordContact(context.Background(), c, raw); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}
