package ingest_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/ingest"
	"github.com/leaktrace/leaktrace/sqlite"
)

// smtpServer is our receiver on 127.0.0.1:0 over a real database file.
type smtpServer struct {
	db   *sqlite.DB
	srv  *ingest.SMTP
	addr string
	live *ingest.Live
}

func startSMTP(tb testing.TB, cfg ingest.SMTPConfig, dns ingest.Resolver) *smtpServer {
	tb.Helper()
	return startSMTPLogged(tb, cfg, dns, nil)
}

// startSMTPLogged is startSMTP with the server's log going to log.
func startSMTPLogged(tb testing.TB, cfg ingest.SMTPConfig, dns ingest.Resolver, log *slog.Logger) *smtpServer {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := tb.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "t.db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	for _, d := range []canary.Domain{{Name: "canary.example"}, {Name: "me@gmail.example", Plus: true}, {Name: "Bücher.example"}} {
		if err := db.AddDomain(ctx, &d); err != nil {
			tb.Fatal(err)
		}
	}
	live, err := ingest.NewLive(ctx, db)
	if err != nil {
		tb.Fatal(err)
	}
	b := db.NewBatcher(nil, sqlite.BatchOptions{})
	if dns == nil {
		dns = fakeDNS{}
	}
	if cfg.DiskPath == "" {
		cfg.DiskPath, cfg.MinFreeBytes = dir, 1
	}
	cfg.Hostname = "mx.test"
	srv, err := ingest.NewSMTP(ctx, cfg, ingest.Ingester{Limits: ingest.DefaultLimits()}, b, live, &ingest.Authenticator{Resolver: dns}, log)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
		<-done
		cancel()
		b.Close()
		db.Close()
	})
	return &smtpServer{db: db, srv: srv, addr: ln.Addr().String(), live: live}
}

func msg(from, to, subject, body string) string {
	return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nMessage-ID: <" + subject + "@test>\r\n\r\n" + body + "\r\n"
}

// send runs one mail transaction and returns the reply to the data (or
// the first error).
func send(tb testing.TB, addr, from string, to []string, raw string) error {
	tb.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(raw)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func code(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	if err == nil {
		return 250
	}
	return -1
}

func contacts(tb testing.TB, db *sqlite.DB) []canary.Contact {
	tb.Helper()
	cs, err := db.Contacts(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return cs
}

func TestSMTPRecipients(t *testing.T) {
	s := startSMTP(t, ingest.SMTPConfig{}, nil)
	for _, tc := range []struct {
		name, rcpt string
		want       int
	}{
		{"canary domain, any local part", "linh.tran.k7q2@canary.example", 250},
		{"canary domain, upper case", "Wang.Fang@CANARY.example", 250},
		{"other domain", "someone@elsewhere.example", 550},
		{"subdomain of a canary domain", "x@sub.canary.example", 550},
		{"plus-style base is someone else's mailbox", "me+k7q2@gmail.example", 550},
		// Added as "Bücher.example": senders write it either way.
		{"international canary domain, ASCII form", "an.vo@xn--bcher-kva.example", 250},
		{"international canary domain, as written (SMTPUTF8)", "an.vo@bücher.example", 250},
		{"a name that only folds to it", "an.vo@bucher.example", 550},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := send(t, s.addr, "a@sender.example", []string{tc.rcpt}, msg("a@sender.example", tc.rcpt, "rcpt", "hello"))
			if got := code(err); got != tc.want {
				t.Fatalf("reply=%d (%v), want %d", got, err, tc.want)
			}
		})
	}
	cs := contacts(t, s.db)
	if len(cs) != 4 {
		t.Fatalf("contacts=%d, want 4", len(cs))
	}
	for _, c := range cs {
		if len(c.Unissued) == 0 {
			t.Errorf("contact %d to %q: unissued=%q, want the canary address (no token was issued)", c.ID, c.To, c.Unissued)
		}
	}
}

func TestSMTPEnvelopeStoredWithContact(t *testing.T) {
	s := startSMTP(t, ingest.SMTPConfig{}, nil)
	raw := msg("Shop <a@sender.example>", "x@canary.example", "envelope", "body text")
	if err := send(t, s.addr, "bounce@sender.example", []string{"x@canary.example", "y@canary.example"}, raw); err != nil {
		t.Fatal(err)
	}
	cs := contacts(t, s.db)
	if len(cs) != 1 {
		t.Fatalf("contacts=%d, want 1", len(cs))
	}
	c := cs[0]
	var auth struct {
		Envelope   ingest.Envelope `json:"envelope"`
		ReceivedBy struct {
			Server string `json:"server"`
		} `json:"received_by"`
		SPF *ingest.SPFResult  `json:"spf"`
		DNS []ingest.DNSAnswer `json:"dns"`
	}
	if err := json.Unmarshal([]byte(c.Auth), &auth); err != nil {
		t.Fatalf("auth json: %v\n%s", err, c.Auth)
	}
	env := auth.Envelope
	if env.MailFrom != "bounce@sender.example" || strings.Join(env.RcptTo, ",") != "x@canary.example,y@canary.example" ||
		env.Helo != "client.test" || !strings.HasPrefix(env.Peer, "127.0.0.1:") || env.TLS {
		t.Fatalf("Envelope=%+v, want the conversation's", env)
	}
	if auth.ReceivedBy.Server != "mx.test" {
		t.Fatalf("received_by.server=%q, want mx.test", auth.ReceivedBy.Server)
	}
	if auth.SPF == nil || auth.SPF.Domain != "sender.example" || len(auth.DNS) == 0 {
		t.Fatalf("SPF=%+v DNS=%+v, want a check of sender.example with its answers", auth.SPF, auth.DNS)
	}
	back, err := s.db.RawObject(context.Background(), c.RawSHA256)
	if err != nil || string(back) != raw {
		t.Fatalf("raw=%q (%v), want the bytes sent", back, err)
	}
}

// rawSession drives a conversation byte for byte.
type rawSession struct {
	tb testing.TB
	c  net.Conn
	r  *bufio.Reader
}

func dialRaw(tb testing.TB, addr string) *rawSession {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	s := &rawSession{tb: tb, c: c, r: bufio.NewReader(c)}
	s.reply()
	return s
}

// reply reads one (possibly multi-line) reply and returns its last line.
func (s *rawSession) reply() string {
	s.tb.Helper()
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.tb.Fatalf("read reply: %v", err)
		}
		if len(line) < 4 || line[3] != '-' {
			return strings.TrimRight(line, "\r\n")
		}
	}
}

func (s *rawSession) cmd(line string) string {
	s.tb.Helper()
	if _, err := s.c.Write([]byte(line + "\r\n")); err != nil {
		s.tb.Fatal(err)
	}
	return s.reply()
}

// Smuggling sequences end nothing: each conversation stores exactly one
// message, the smuggled "second message" inside it.
func TestSMTPSmugglingYieldsOneMessage(t *testing.T) {
	// go-smtp drops the dot of "\r\n.\n" and "\r\n.\r" (as dot-stuffing);
	// the other sequences reach the store as sent and are noted.
	noted := map[string]bool{"\n.\r\n": true, "\n.\n": true, "\r.\r\n": true, "\r.\r": true, "\n.\r": true}
	for i, seq := range []string{"\n.\r\n", "\r\n.\n", "\n.\n", "\r.\r\n", "\r\n.\r", "\r.\r", "\n.\r"} {
		t.Run(fmt.Sprintf("%q", seq), func(t *testing.T) {
			s := startSMTP(t, ingest.SMTPConfig{}, nil)
			r := dialRaw(t, s.addr)
			for _, c := range []string{"EHLO client.test", "MAIL FROM:<a@sender.example>", "RCPT TO:<x@canary.example>"} {
				if got := r.cmd(c); !strings.HasPrefix(got, "250") {
					t.Fatalf("%s: %s", c, got)
				}
			}
			if got := r.cmd("DATA"); !strings.HasPrefix(got, "354") {
				t.Fatalf("DATA: %s", got)
			}
			body := fmt.Sprintf("From: a@sender.example\r\nTo: x@canary.example\r\nSubject: smuggle %d\r\n\r\nfirst"+seq+
				"MAIL FROM:<admin@bank.example>\r\nRCPT TO:<victim@canary.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nsecond\r\n.\r\n", i)
			if _, err := r.c.Write([]byte(body)); err != nil {
				t.Fatal(err)
			}
			if got := r.reply(); !strings.HasPrefix(got, "250") {
				t.Fatalf("end of data: %s, want 250", got)
			}
			if got := r.cmd("QUIT"); !strings.HasPrefix(got, "221") {
				t.Fatalf("QUIT: %s, want 221 (a smuggled command was answered)", got)
			}
			cs := contacts(t, s.db)
			if len(cs) != 1 {
				t.Fatalf("contacts=%d, want 1", len(cs))
			}
			if noted[seq] && !strings.Contains(strings.Join(cs[0].Problems, "\n"), "smuggling") {
				t.Errorf("Problems=%q, want the smuggling attempt noted", cs[0].Problems)
			}
		})
	}
}

// BDAT (CHUNKING, which go-smtp offers) carries bytes as counted, with no
// dot at all: what looks like an end of data and a second transaction
// inside a chunk is part of the one message, stored byte for byte. A
// message that outgrows the size limit over several chunks is refused and
// nothing of it is stored.
func TestSMTPChunking(t *testing.T) {
	s := startSMTP(t, ingest.SMTPConfig{MaxMessageBytes: 4096}, nil)
	r := dialRaw(t, s.addr)
	if got := r.cmd("EHLO client.test"); !strings.HasPrefix(got, "250") {
		t.Fatalf("EHLO: %s", got)
	}
	bdat := func(chunk string, last bool) string {
		t.Helper()
		cmd := fmt.Sprintf("BDAT %d", len(chunk))
		if last {
			cmd += " LAST"
		}
		if _, err := r.c.Write([]byte(cmd + "\r\n" + chunk)); err != nil {
			t.Fatal(err)
		}
		return r.reply()
	}
	transaction := func() {
		t.Helper()
		for _, c := range []string{"MAIL FROM:<a@sender.example>", "RCPT TO:<x@canary.example>"} {
			if got := r.cmd(c); !strings.HasPrefix(got, "250") {
				t.Fatalf("%s: %s", c, got)
			}
		}
	}

	transaction()
	chunks := []string{
		"From: a@sender.example\r\nTo: x@canary.example\r\nSubject: chunked\r\n\r\nfirst part\r\n.\r\n",
		"MAIL FROM:<admin@bank.example>\r\nRCPT TO:<victim@canary.example>\r\nDATA\r\n",
		"..a line that starts with two dots stays as sent\r\n",
	}
	for i, c := range chunks {
		if got := bdat(c, i == len(chunks)-1); !strings.HasPrefix(got, "250") {
			t.Fatalf("chunk %d: %s, want 250", i, got)
		}
	}
	cs := contacts(t, s.db)
	if len(cs) != 1 {
		t.Fatalf("contacts=%d, want 1", len(cs))
	}
	back, err := s.db.RawObject(context.Background(), cs[0].RawSHA256)
	if err != nil || string(back) != strings.Join(chunks, "") {
		t.Fatalf("raw=%q (%v), want the chunks' bytes exactly", back, err)
	}

	transaction()
	part := strings.Repeat("x", 1500)
	for i := range 3 {
		got := bdat(part, i == 2)
		if strings.HasPrefix(got, "552") {
			break
		}
		if i == 2 || !strings.HasPrefix(got, "250") {
			t.Fatalf("chunk %d of an oversized message: %s, want 250 and then 552", i, got)
		}
	}
	if n := len(contacts(t, s.db)); n != 1 {
		t.Fatalf("contacts=%d after an oversized message, want still 1", n)
	}
}

// A client that hangs up in the middle of a BDAT transfer has nothing
// stored and leaves the receiver serving. (go-smtp may log a recovered
// panic for it: see knownBDATPanic.)
func TestSMTPChunkingHangUp(t *testing.T) {
	plog := &panicLog{}
	s := startSMTPLogged(t, ingest.SMTPConfig{}, nil, slog.New(plog))
	for i := range 50 {
		conv := fmt.Sprintf("EHLO c\r\nMAIL FROM:<a@sender.example>\r\nRCPT TO:<x@canary.example>\r\nBDAT 12\r\nSubject: %02d\r\n", i)
		converse(t, s.addr, []byte(conv))
	}
	greeted(t, s.addr)
	if p := plog.first(); p != "" {
		t.Fatalf("a session panicked: %s", p)
	}
	if n := len(contacts(t, s.db)); n != 0 {
		t.Fatalf("contacts=%d from unfinished transfers, want 0", n)
	}
}

func TestSMTPLimits(t *testing.T) {
	t.Run("message size", func(t *testing.T) {
		s := startSMTP(t, ingest.SMTPConfig{MaxMessageBytes: 4096}, nil)
		big := msg("a@sender.example", "x@canary.example", "big", strings.Repeat("0123456789abcdef\r\n", 400))
		if got := code(send(t, s.addr, "a@sender.example", []string{"x@canary.example"}, big)); got != 552 {
			t.Fatalf("reply=%d, want 552", got)
		}
		if n := len(contacts(t, s.db)); n != 0 {
			t.Fatalf("contacts=%d, want 0", n)
		}
	})
	t.Run("recipients", func(t *testing.T) {
		s := startSMTP(t, ingest.SMTPConfig{MaxRecipients: 3}, nil)
		rcpts := []string{"a@canary.example", "b@canary.example", "c@canary.example", "d@canary.example"}
		if got := code(send(t, s.addr, "a@sender.example", rcpts, msg("a@s.example", "a@canary.example", "r", "x"))); got != 452 {
			t.Fatalf("reply=%d, want 452", got)
		}
	})
	t.Run("free disk floor", func(t *testing.T) {
		s := startSMTP(t, ingest.SMTPConfig{DiskPath: t.TempDir(), MinFreeBytes: 1 << 62}, nil)
		if got := code(send(t, s.addr, "a@sender.example", []string{"x@canary.example"}, msg("a@s.example", "x@canary.example", "d", "x"))); got != 452 {
			t.Fatalf("reply=%d, want 452", got)
		}
	})
	t.Run("connections per address", func(t *testing.T) {
		s := startSMTP(t, ingest.SMTPConfig{MaxConnsPerIP: 2}, nil)
		a, b := dialRaw(t, s.addr), dialRaw(t, s.addr)
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		if !strings.HasPrefix(line, "421") {
			t.Fatalf("third connection got %q, want 421", line)
		}
		a.cmd("QUIT")
		b.cmd("QUIT")
	})
	t.Run("idle timeout", func(t *testing.T) {
		s := startSMTP(t, ingest.SMTPConfig{ReadTimeout: 200 * time.Millisecond}, nil)
		r := dialRaw(t, s.addr)
		if got := r.reply(); !strings.HasPrefix(got, "421") {
			t.Fatalf("idle connection got %q, want 421", got)
		}
	})
}

// Message data held by all sessions at once is bounded: a session that
// finds no room within the wait defers its message with 452 and frees
// what it held; the others are not disturbed.
func TestSMTPBytesInFlightBounded(t *testing.T) {
	// Room for one message of up to 100 KB and two blocks more (228 KB).
	s := startSMTP(t, ingest.SMTPConfig{MaxMessageBytes: 100 << 10, MaxBytesInFlight: 1, InFlightWait: 300 * time.Millisecond}, nil)
	start := func() *rawSession {
		r := dialRaw(t, s.addr)
		for _, c := range []string{"EHLO client.test", "MAIL FROM:<a@sender.example>", "RCPT TO:<x@canary.example>", "DATA"} {
			r.cmd(c)
		}
		return r
	}
	chunk := "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 998)+"\r\n", 70)
	a := start()
	a.c.Write([]byte(chunk)) // holds two blocks
	for deadline := time.Now().Add(10 * time.Second); s.srv.BytesInFlight() < 128<<10; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the first message holds %d bytes, want two blocks", s.srv.BytesInFlight())
		}
	}
	b := start()
	b.c.Write([]byte(chunk + ".\r\n")) // its second block does not fit beside a's
	if got := b.reply(); !strings.HasPrefix(got, "452") {
		t.Fatalf("second large message: %s, want 452", got)
	}
	a.c.Write([]byte(".\r\n"))
	if got := a.reply(); !strings.HasPrefix(got, "250") {
		t.Fatalf("first message: %s, want 250", got)
	}
	// a's room is free again: b's retry fits.
	for _, c := range []string{"RSET", "MAIL FROM:<a@sender.example>", "RCPT TO:<x@canary.example>", "DATA"} {
		b.cmd(c)
	}
	b.c.Write([]byte(chunk + "retry\r\n.\r\n"))
	if got := b.reply(); !strings.HasPrefix(got, "250") {
		t.Fatalf("retried message: %s, want 250", got)
	}
	if n := len(contacts(t, s.db)); n != 2 {
		t.Fatalf("contacts=%d, want 2", n)
	}
}

func TestSMTPNoAuth(t *testing.T) {
	s := startSMTP(t, ingest.SMTPConfig{}, nil)
	r := dialRaw(t, s.addr)
	r.c.Write([]byte("EHLO client.test\r\n"))
	for {
		line, err := r.r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.ToUpper(line), "AUTH") {
			t.Fatalf("EHLO advertises %q", line)
		}
		if line[3] != '-' {
			break
		}
	}
	if got := r.cmd("AUTH PLAIN AGFkbWluAHNlY3JldA=="); !strings.HasPrefix(got, "5") {
		t.Fatalf("AUTH: %s, want a 5xx refusal", got)
	}
}

func selfSigned(tb testing.TB) *tls.Config {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.test"}, DNSNames: []string{"mx.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := tb.TempDir()
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, err := tls.LoadX509KeyPair(cf, kf)
	if err != nil {
		tb.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

func TestSMTPSTARTTLS(t *testing.T) {
	s := startSMTP(t, ingest.SMTPConfig{TLS: selfSigned(t)}, nil)
	plain := dialRaw(t, s.addr)
	if got := plain.cmd("EHLO client.test"); !strings.HasPrefix(got, "250") {
		t.Fatalf("EHLO: %s", got)
	}
	plain.c.Close()
	c, err := smtp.DialStartTLS(s.addr, &tls.Config{ServerName: "mx.test", InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.TLSConnectionState(); !ok {
		t.Fatal("no TLS after STARTTLS")
	}
	if err := c.Mail("a@sender.example", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("x@canary.example", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(msg("a@sender.example", "x@canary.example", "tls", "over tls")))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	cs := contacts(t, s.db)
	if len(cs) != 1 || !strings.Contains(cs[0].Auth, `"tls":true`) {
		t.Fatalf("contacts=%d, auth=%s, want one with tls true", len(cs), cs[0].Auth)
	}
}

// Many concurrent sessions share commits; every acknowledged message is
// stored once, identical bytes are one contact.
func TestSMTPConcurrentSessions(t *testing.T) {
	s := startSMTP(t, ingest.SMTPConfig{MaxConnsPerIP: 64}, nil)
	const conns, each = 12, 15
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(s.addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for j := range each {
				raw := msg("a@sender.example", "x@canary.example", fmt.Sprintf("m-%d-%d", i, j), "body")
				if j == 0 {
					raw = msg("a@sender.example", "x@canary.example", "same", "identical in every session")
				}
				if err := c.SendMail("a@sender.example", []string{"x@canary.example"}, strings.NewReader(raw)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got, want := len(contacts(t, s.db)), conns*(each-1)+1; got != want {
		t.Fatalf("contacts=%d, want %d", got, want)
	}
	rep, err := s.db.Verify(context.Background(), "")
	if err != nil || !rep.OK {
		t.Fatalf("verify=%+v (%v), want OK", rep, err)
	}
}

// Shutdown lets a message in transfer finish and be acknowledged.
func TestSMTPShutdownDrains(t *testing.T) {
	s := startSMTP(t, ingest.SMTPConfig{}, nil)
	idle := dialRaw(t, s.addr)
	idle.cmd("EHLO idle.test")
	r := dialRaw(t, s.addr)
	for _, c := range []string{"EHLO client.test", "MAIL FROM:<a@sender.example>", "RCPT TO:<x@canary.example>", "DATA"} {
		r.cmd(c)
	}
	r.c.Write([]byte("From: a@sender.example\r\nSubject: in flight\r\n\r\nhalf"))
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- s.srv.Shutdown(ctx)
	}()
	// The idle session is closed; the one in transfer is not.
	if _, err := idle.r.ReadString('\n'); err == nil {
		t.Fatal("idle session still open during shutdown")
	}
	r.c.Write([]byte(" and the rest\r\n.\r\n"))
	if got := r.reply(); !strings.HasPrefix(got, "250") {
		t.Fatalf("message in transfer: %s, want 250", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if n := len(contacts(t, s.db)); n != 1 {
		t.Fatalf("contacts=%d, want 1", n)
	}
}

// BenchmarkSMTPReceive measures whole receipts (SMTP, checks, matching,
// durable group commit) from one connection and from eight.
func BenchmarkSMTPReceive(b *testing.B) {
	body := strings.Repeat("Chi Linh oi, don hang cua chi bi loi thanh toan, vui long goi lai.\r\n", 28)
	for _, conns := range []int{1, 8} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			s := startSMTP(b, ingest.SMTPConfig{MaxConnsPerIP: 64}, nil)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := smtp.Dial(s.addr)
					if err != nil {
						b.Error(err)
						return
					}
					defer c.Close()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						raw := msg("a@sender.example", "x@canary.example", fmt.Sprintf("bench-%d", i), body)
						if err := c.SendMail("a@sender.example", []string{"x@canary.example"}, strings.NewReader(raw)); err != nil {
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
