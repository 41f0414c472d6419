package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"github.com/leaktrace/leaktrace/sqlite"
)

// testDNS answers TXT questions from a map and knows nothing else.
type testDNS map[string][]string

func (f testDNS) LookupTXT(_ context.Context, name string) ([]string, error) {
	if v, ok := f[strings.TrimSuffix(strings.ToLower(name), ".")]; ok {
		return v, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}
func (f testDNS) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}
func (f testDNS) LookupIPAddr(_ context.Context, name string) ([]net.IPAddr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}
func (f testDNS) LookupAddr(_ context.Context, name string) ([]string, error) {
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

const (
	viewerToken = "viewer:0123456789abcdef-viewer"
	adminToken  = "admin:0123456789abcdef-admin"
)

// startMain runs serve in-process on 127.0.0.1:0 over the user's database.
func startMain(tb testing.TB, c *user, cfg serveConfig) *Main {
	tb.Helper()
	cfg.DB, cfg.SMTPAddr, cfg.HTTPAddr = c.db, "127.0.0.1:0", "127.0.0.1:0"
	cfg.SMTP.MinFreeBytes, cfg.SMTP.Hostname = 1, "mx.test"
	cfg.Tokens = []string{viewerToken, adminToken}
	now := c.now.Add(time.Hour)
	m := NewMain(cfg, slog.New(slog.DiscardHandler), func() time.Time { return now })
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := m.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return m
}

func sendMail(tb testing.TB, addr, from, to, raw string) {
	tb.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail(from, []string{to}, strings.NewReader(raw)); err != nil {
		tb.Fatalf("send to %s: %v", to, err)
	}
}

func getAPI(tb testing.TB, m *Main, path, token string) (int, []byte) {
	tb.Helper()
	req, _ := http.NewRequest("GET", "http://"+m.HTTPAddr()+path, nil)
	if token != "" {
		_, secret, _ := strings.Cut(token, ":")
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// Mail authenticated for a party that saw the token is first-party; the
// same mail merely claiming that party in From is evidence.
func TestServeFirstPartyByAuthentication(t *testing.T) {
	c := world(t)
	o := c.order("o-1", "Lens Pharmacy", "FastExpress", "prepaid")
	to := o.token(t, "account email") // shown to ShopA only
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	dns := testDNS{
		"sel._domainkey.shopa.vn": {"v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)},
		"shopa.vn":                {"v=spf1 -all"},
		"mail.shopa.vn":           {"v=spf1 ip4:127.0.0.1 -all"},
	}
	m := startMain(t, c, serveConfig{Resolver: dns})
	mail := func(subject string) string {
		return "From: ShopA <orders@shopa.vn>\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nMessage-ID: <" + subject + "@shopa.vn>\r\n\r\nYour order is on its way.\r\n"
	}
	var signed bytes.Buffer
	if err := dkim.Sign(&signed, strings.NewReader(mail("dkim")), &dkim.SignOptions{Domain: "shopa.vn", Selector: "sel", Signer: key}); err != nil {
		t.Fatal(err)
	}
	sendMail(t, m.SMTPAddr(), "bounce@elsewhere.example", to, signed.String())
	sendMail(t, m.SMTPAddr(), "bounce@mail.shopa.vn", to, mail("spf-aligned"))
	sendMail(t, m.SMTPAddr(), "bounce@shopa.vn", to, mail("claim-only"))

	t.Run("api refuses without a valid token", func(t *testing.T) {
		if code, _ := getAPI(t, m, "/api/attribute", ""); code != 401 {
			t.Fatalf("status=%d, want 401", code)
		}
		if code, _ := getAPI(t, m, "/api/attribute", "viewer:wrong-secret-0123456789"); code != 401 {
			t.Fatalf("status=%d, want 401", code)
		}
	})
	t.Run("healthz", func(t *testing.T) {
		if code, body := getAPI(t, m, "/healthz", ""); code != 200 || !strings.Contains(string(body), `"ok"`) {
			t.Fatalf("status=%d body=%s, want 200 ok", code, body)
		}
	})
	for _, tok := range []string{viewerToken, adminToken} {
		code, body := getAPI(t, m, "/api/attribute?investigation=q4", tok)
		if code != 200 {
			t.Fatalf("status=%d body=%s, want 200", code, body)
		}
		var r reportOut
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("api: %v\n%s", err, body)
		}
		if len(r.Contacts) != 3 {
			t.Fatalf("contacts=%d, want 3", len(r.Contacts))
		}
		want := []string{"first_party", "first_party", "attributed"}
		for i, ct := range r.Contacts {
			if ct.Status != want[i] {
				t.Errorf("contact %d status=%q, want %q (candidates %q)", i+1, ct.Status, want[i], ct.Candidates)
			}
		}
		// The same JSON as `attribute --json`.
		var cli reportOut
		c.now = c.now.Add(time.Hour)
		c.json(&cli, "attribute", "--investigation", "q4")
		if len(cli.Contacts) != len(r.Contacts) || cli.Contacts[2].Status != r.Contacts[2].Status {
			t.Fatalf("api report differs from attribute --json: %+v vs %+v", r.Contacts, cli.Contacts)
		}
		c.now = c.now.Add(-time.Hour)
	}
}

// buildBinary builds leaktrace for the subprocess tests.
func buildBinary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "leaktrace")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type serveProc struct {
	cmd    *exec.Cmd
	addr   string
	stderr *bytes.Buffer
	done   chan error
}

func startServe(tb testing.TB, bin, db string) *serveProc {
	tb.Helper()
	cmd := exec.Command(bin, "--db", db, "serve", "--smtp", "127.0.0.1:0", "--min-free-disk", "1",
		"--max-connections-per-ip", "64", "--dns", "127.0.0.1:1", "--hostname", "mx.test")
	p := &serveProc{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		tb.Fatalf("serve did not start: %v\n%s", err, p.stderr)
	}
	go func() { io.Copy(io.Discard, out); p.done <- cmd.Wait() }()
	for _, f := range strings.Fields(line) {
		if a, ok := strings.CutPrefix(f, "smtp="); ok {
			p.addr = a
		}
	}
	tb.Cleanup(func() { cmd.Process.Kill(); <-p.done })
	return p
}

// load sends unique messages from conns connections until stop is closed
// or each has sent max; it returns the acknowledged and the unacknowledged.
func load(addr string, conns, max int, stop <-chan struct{}, acked *atomic.Int64, tag string) (ack, unack []string) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(addr)
			if err != nil {
				return
			}
			defer c.Close()
			for j := range max {
				select {
				case <-stop:
					return
				default:
				}
				raw := fmt.Sprintf("From: load@sender.example\r\nTo: x@canary.example\r\nSubject: %s %d-%d\r\nMessage-ID: <%s.%d.%d@sender.example>\r\n\r\n%s\r\n",
					tag, i, j, tag, i, j, strings.Repeat("body line of a load message\r\n", 20))
				err := c.SendMail("load@sender.example", []string{"x@canary.example"}, strings.NewReader(raw))
				mu.Lock()
				if err == nil {
					ack = append(ack, raw)
					acked.Add(1)
				} else {
					unack = append(unack, raw)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return ack, unack
}

// storedOnce checks that every message is held as exactly one contact,
// byte for byte.
func storedOnce(tb testing.TB, db string, msgs []string) {
	tb.Helper()
	d, err := sqlite.Open(context.Background(), db, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer d.Close()
	cs, err := d.Contacts(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	count := map[string]int{}
	for _, c := range cs {
		count[c.RawSHA256]++
	}
	for _, m := range msgs {
		sum := sha256.Sum256([]byte(m))
		sha := hex.EncodeToString(sum[:])
		if count[sha] != 1 {
			tb.Fatalf("message %q stored %d times, want 1", m[:80], count[sha])
		}
		raw, err := d.RawObject(context.Background(), sha)
		if err != nil || string(raw) != m {
			tb.Fatalf("raw of %s differs from what was sent (%v)", sha, err)
		}
	}
	rep, err := d.Verify(context.Background(), "")
	if err != nil || !rep.OK {
		tb.Fatalf("verify=%+v (%v), want OK", rep, err)
	}
}

func TestServeProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it")
	}
	bin := buildBinary(t)
	newDB := func(t *testing.T) string {
		c := newCLI(t)
		c.ok("init")
		c.ok("domain", "add", "canary.example")
		return c.db
	}
	waitFor := func(t *testing.T, acked *atomic.Int64, n int64, p *serveProc) {
		for i := 0; acked.Load() < n; i++ {
			if i > 3000 {
				t.Fatalf("only %d messages acknowledged\n%s", acked.Load(), p.stderr)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	t.Run("SIGKILL loses nothing acknowledged", func(t *testing.T) {
		db := newDB(t)
		p := startServe(t, bin, db)
		var acked atomic.Int64
		stop := make(chan struct{})
		var ack, unack []string
		done := make(chan struct{})
		go func() { ack, unack = load(p.addr, 16, 200, stop, &acked, "kill"); close(done) }()
		waitFor(t, &acked, 150, p)
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-done
		close(stop)
		t.Logf("acknowledged %d, cut off %d", len(ack), len(unack))
		// Restart over the same file: what was acknowledged is there, and
		// the cut-off messages, sent again, are stored once.
		p2 := startServe(t, bin, db)
		for _, raw := range unack {
			sendMail(t, p2.addr, "load@sender.example", "x@canary.example", raw)
		}
		if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := <-p2.done; err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p2.stderr)
		}
		p2.done <- nil
		storedOnce(t, db, append(ack, unack...))
	})

	t.Run("SIGTERM drains and exits cleanly", func(t *testing.T) {
		db := newDB(t)
		p := startServe(t, bin, db)
		var acked atomic.Int64
		stop := make(chan struct{})
		var ack []string
		done := make(chan struct{})
		go func() { ack, _ = load(p.addr, 8, 200, stop, &acked, "term"); close(done) }()
		waitFor(t, &acked, 100, p)
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-p.done:
			if err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr)
			}
			p.done <- nil
		case <-time.After(2 * time.Minute):
			t.Fatalf("serve still running two minutes after SIGTERM\n%s", p.stderr)
		}
		<-done
		close(stop)
		storedOnce(t, db, ack)
	})
}

// serve refuses to start where every message would bounce for good: on a
// database that does not exist (a mistyped --db would otherwise become a
// new, empty one) and, for SMTP, on one with no canary domain. HTTP alone
// needs no domain.
func TestServeRefusesWhereMailWouldBounce(t *testing.T) {
	c := newCLI(t)
	if msg := c.fails("serve", "--smtp", "127.0.0.1:0"); !strings.Contains(msg, "leaktrace init") {
		t.Fatalf("serve on a missing database: %q, want it to name leaktrace init", msg)
	}
	if _, err := os.Stat(c.db); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("serve created %s (%v), want no file", c.db, err)
	}
	c.ok("init")
	if msg := c.fails("serve", "--smtp", "127.0.0.1:0"); !strings.Contains(msg, "domain add") {
		t.Fatalf("serve --smtp without a canary domain: %q, want it to name domain add", msg)
	}
	m := NewMain(serveConfig{DB: c.db, HTTPAddr: "127.0.0.1:0"}, slog.New(slog.DiscardHandler), time.Now)
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("serve --http without a canary domain: %v, want it to start", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}
