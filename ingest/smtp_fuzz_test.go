package ingest_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/ingest"
)

// panicLog records what go-smtp logs when it recovers a panic of a
// session, which would otherwise pass unseen.
type panicLog struct {
	mu     sync.Mutex
	panics []string
}

func (l *panicLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *panicLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *panicLog) WithGroup(string) slog.Handler            { return l }
func (l *panicLog) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") && !knownBDATPanic(r.Message) {
		l.mu.Lock()
		l.panics = append(l.panics, r.Message)
		l.mu.Unlock()
	}
	return nil
}

// knownBDATPanic is go-smtp's own (v0.25.1 and v0.26.0): when a client
// hangs up right after a BDAT chunk without LAST, the goroutine that feeds
// the chunks to Session.Data can start after Close has cleared the
// session, and calls Data on nil. go-smtp recovers it and logs it; the
// transfer was unfinished, nothing was acknowledged and nothing is
// stored (TestSMTPChunkingHangUp), and the receiver goes on.
func knownBDATPanic(msg string) bool {
	return strings.Contains(msg, "(*Conn).handleBdat.func1()") && strings.Contains(msg, "nil pointer dereference")
}

func (l *panicLog) first() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.panics) == 0 {
		return ""
	}
	return l.panics[0]
}

// FuzzSMTPSession sends arbitrary bytes to a live receiver as one
// conversation. Whatever they are, no session panics, the receiver still
// greets the next client, and what it stored still verifies.
//
//	go test ./ingest -run '^$' -fuzz FuzzSMTPSession -fuzztime 5m
func FuzzSMTPSession(f *testing.F) {
	plog := &panicLog{}
	s := startSMTPLogged(f, ingest.SMTPConfig{MaxMessageBytes: 64 << 10, MaxRecipients: 5, ReadTimeout: 5 * time.Second,
		DataBlock: 5 * time.Second, DataTimeout: 10 * time.Second}, nil, slog.New(plog))
	txn := "EHLO client.test\r\nMAIL FROM:<a@sender.example>\r\nRCPT TO:<x@canary.example>\r\n"
	body := "From: a@sender.example\r\nTo: x@canary.example\r\nSubject: hi\r\n\r\nbody\r\n"
	for _, seed := range []string{
		txn + "DATA\r\n" + body + ".\r\nQUIT\r\n",
		txn + "DATA\r\n" + body + "\n.\r\nMAIL FROM:<b@bank.example>\r\nRCPT TO:<y@canary.example>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n",
		txn + "BDAT 10\r\n0123456789BDAT 5 LAST\r\n.\r\n\r\nQUIT\r\n",
		txn + "BDAT 99999999 LAST\r\nshort",
		"EHLO x\r\nSTARTTLS\r\nAUTH PLAIN AGFAYg==\r\nVRFY root\r\nEXPN list\r\nHELP\r\nNOOP\r\nRSET\r\nQUIT\r\n",
		"HELO \x00\xff\r\nMAIL FROM:<" + strings.Repeat("a", 600) + "@x>\r\nRCPT TO:<\"a b\"@canary.example>\r\nRCPT TO:<@canary.example>\r\n",
		txn + "RCPT TO:<y@other.example>\r\nDATA\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c\r\n\r\n\xe9\xe8=\r\n.\r\n",
		txn + "DATA\r\nSubject: =?gb2312?B?xOO6ww==?= =?utf-8?q?=E2=82?=\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notbase64\r\n.\r\n",
		"MAIL FROM:<a@b>\r\nDATA\r\n.\r\n" + strings.Repeat("NOOP\r\n", 50),
		txn + "DATA\r\n" + strings.Repeat("x", 2000) + "\r\n.\r\n",
	} {
		f.Add([]byte(seed))
	}
	runs := 0
	f.Fuzz(func(t *testing.T, in []byte) {
		before := len(contacts(t, s.db))
		converse(t, s.addr, in)
		// The first seed is a plain transaction: if it stores nothing, the
		// harness tests nothing.
		if string(in) == txn+"DATA\r\n"+body+".\r\nQUIT\r\n" && len(contacts(t, s.db)) != before+1 {
			t.Fatalf("a plain transaction stored %d contacts, want 1", len(contacts(t, s.db))-before)
		}
		if p := plog.first(); p != "" {
			t.Fatalf("a session panicked: %s", p)
		}
		greeted(t, s.addr)
		// Verifying reads every stored object: do it now and then, and
		// always over the seeds.
		if runs++; runs <= 16 || runs%64 == 0 {
			if rep, err := s.db.Verify(context.Background(), ""); err != nil || !rep.OK {
				t.Fatalf("verify after the conversation: %+v (%v)", rep, err)
			}
		}
	})
}

// converse writes in as a client would, shuts the sending side and reads
// the replies until the server closes.
func converse(t *testing.T, addr string, in []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	go func() {
		c.Write(in)
		c.(*net.TCPConn).CloseWrite()
	}()
	if _, err := io.Copy(io.Discard, c); err != nil && !isReset(err) {
		t.Fatalf("reading the replies: %v", err)
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// greeted checks that the receiver still opens a conversation.
func greeted(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("receiver gone: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "220") {
		t.Fatalf("greeting %q (%v), want 220", line, err)
	}
	c.Write([]byte("QUIT\r\n"))
}
