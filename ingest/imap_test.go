package ingest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/leaktrace/leaktrace/attribution"
	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/ingest"
	"github.com/leaktrace/leaktrace/sqlite"
)

const (
	imapTestUser     = "advocate@mail.example"
	imapTestPassword = "correct horse"
)

// imapTestDB is a fresh store with a canary domain, and an Ingester on it.
func imapTestDB(tb testing.TB) (*ingest.Ingester, *sqlite.DB) {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "t.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.AddDomain(ctx, &canary.Domain{Name: "canary.example"}); err != nil {
		tb.Fatal(err)
	}
	u, err := db.Universe(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return &ingest.Ingester{Store: db, Matcher: attribution.NewMatcher(u), Limits: ingest.DefaultLimits(),
		Now: func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }}, db
}

// memIMAP is go-imap's in-memory server on 127.0.0.1:0.
type memIMAP struct {
	addr string
	user *imapmemserver.User
}

type memIMAPOptions struct {
	tls       *tls.Config // serve implicit TLS with it
	startTLS  *tls.Config // offer STARTTLS with it
	junkName  string      // "" for a \Junk folder called Junk
	noSpecial bool        // do not advertise SPECIAL-USE
}

func startMemIMAP(tb testing.TB, o memIMAPOptions) *memIMAP {
	tb.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(imapTestUser, imapTestPassword)
	if err := user.Create("INBOX", nil); err != nil {
		tb.Fatal(err)
	}
	junk := o.junkName
	var opts *imap.CreateOptions
	if junk == "" {
		junk = "Junk"
		opts = &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrJunk}}
	}
	if err := user.Create(junk, opts); err != nil {
		tb.Fatal(err)
	}
	if err := user.Create("Archive", nil); err != nil {
		tb.Fatal(err)
	}
	mem.AddUser(user)
	caps := imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}
	if !o.noSpecial {
		caps[imap.CapSpecialUse] = struct{}{}
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         caps,
		TLSConfig:    o.startTLS,
		InsecureAuth: o.startTLS == nil,
		Logger:       discardLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	if o.tls != nil {
		ln = tls.NewListener(ln, o.tls)
	}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return &memIMAP{addr: ln.Addr().String(), user: user}
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

// client logs in as the test user over plain TCP (the server must not use TLS).
func (m *memIMAP) client(tb testing.TB) *imapclient.Client {
	tb.Helper()
	c, err := imapclient.DialInsecure(m.addr, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	if err := c.Login(imapTestUser, imapTestPassword).Wait(); err != nil {
		tb.Fatal(err)
	}
	return c
}

func (m *memIMAP) append(tb testing.TB, mailbox string, raws ...string) {
	tb.Helper()
	c := m.client(tb)
	for _, raw := range raws {
		cmd := c.Append(mailbox, int64(len(raw)), nil)
		if _, err := cmd.Write([]byte(raw)); err != nil {
			tb.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			tb.Fatal(err)
		}
		if _, err := cmd.Wait(); err != nil {
			tb.Fatal(err)
		}
	}
	c.Logout().Wait()
}

func scamMail(i int, to string) string {
	return strings.ReplaceAll(fmt.Sprintf(`Received: from mx.scam.example by mx.mail.example; Mon, 2 Nov 2026 10:%02d:00 +0700
From: "Shop Support" <support@shop-refund.example>
To: %s
Subject: Refund for your order %d
Message-ID: <m%d@shop-refund.example>
Date: Mon, 2 Nov 2026 10:00:00 +0700

Dear customer, your order %d needs a refund confirmation.
`, i%60, to, i, i, i), "\n", "\r\n")
}

func (m *memIMAP) poller(in *ingest.Ingester, db *sqlite.DB) *ingest.IMAPPoller {
	return &ingest.IMAPPoller{In: in, State: db, Config: ingest.IMAPConfig{
		Server: m.addr, User: imapTestUser, Password: imapTestPassword, Security: ingest.IMAPPlain}}
}

func contactsBySource(tb testing.TB, db *sqlite.DB) map[string]int {
	tb.Helper()
	cs, err := db.Contacts(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]int{}
	for _, c := range cs {
		out[c.Source]++
	}
	return out
}

func TestIMAPSync(t *testing.T) {
	ctx := context.Background()
	srv := startMemIMAP(t, memIMAPOptions{})
	srv.append(t, "INBOX", scamMail(1, "linh.tran.k7q2@canary.example"), scamMail(2, "wang.fang.94xd@canary.example"))
	srv.append(t, "Junk", scamMail(3, "linh.tran.k7q2@canary.example"))
	srv.append(t, "Archive", scamMail(4, "archived@canary.example"))
	in, db := imapTestDB(t)
	p := srv.poller(in, db)

	t.Run("first sync reads INBOX and Junk", func(t *testing.T) {
		st, err := p.Sync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(st.Mailboxes, []string{"INBOX", "Junk"}) {
			t.Fatalf("Mailboxes=%q, want INBOX and Junk", st.Mailboxes)
		}
		if st.Recorded != 3 || st.Duplicates != 0 {
			t.Fatalf("Recorded=%d Duplicates=%d, want 3 and 0", st.Recorded, st.Duplicates)
		}
		srcs := contactsBySource(t, db)
		if len(srcs) != 3 {
			t.Fatalf("contacts by source=%v, want 3", srcs)
		}
		for s := range srcs {
			if !strings.HasPrefix(s, "imap://"+strings.ReplaceAll(imapTestUser, "@", "%40")+"@"+srv.addr+"/") || !strings.Contains(s, ";UID=") {
				t.Fatalf("Source=%q, want an imap:// URL with UIDVALIDITY and UID", s)
			}
		}
	})
	t.Run("second sync fetches nothing", func(t *testing.T) {
		st, err := p.Sync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Fetched != 0 {
			t.Fatalf("Fetched=%d, want 0", st.Fetched)
		}
	})
	t.Run("only new mail is fetched", func(t *testing.T) {
		srv.append(t, "INBOX", scamMail(5, "new@canary.example"))
		st, err := p.Sync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Fetched != 1 || st.Recorded != 1 {
			t.Fatalf("Fetched=%d Recorded=%d, want 1 and 1", st.Fetched, st.Recorded)
		}
	})
	t.Run("nothing is marked read or removed", func(t *testing.T) {
		c := srv.client(t)
		for _, mb := range []string{"INBOX", "Junk"} {
			if _, err := c.Select(mb, nil).Wait(); err != nil {
				t.Fatal(err)
			}
			msgs, err := c.Fetch(imap.SeqSetNum(1, 2, 3), &imap.FetchOptions{Flags: true}).Collect()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				if slices.Contains(m.Flags, imap.FlagSeen) || slices.Contains(m.Flags, imap.FlagDeleted) {
					t.Fatalf("%s message %d flags=%v, want neither \\Seen nor \\Deleted", mb, m.SeqNum, m.Flags)
				}
			}
		}
		if n := len(contactsBySource(t, db)); n != 4 {
			t.Fatalf("contacts=%d, want 4", n)
		}
	})
	t.Run("a renumbered mailbox is read again without duplicates", func(t *testing.T) {
		// Deleting and re-creating a mailbox gives it a new UIDVALIDITY.
		if err := srv.user.Delete("Junk"); err != nil {
			t.Fatal(err)
		}
		if err := srv.user.Create("Junk", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrJunk}}); err != nil {
			t.Fatal(err)
		}
		srv.append(t, "Junk", scamMail(3, "linh.tran.k7q2@canary.example"), scamMail(6, "six@canary.example"))
		st, err := p.Sync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(st.Rescanned, []string{"Junk"}) || st.Fetched != 2 || st.Recorded != 1 || st.Duplicates != 1 {
			t.Fatalf("Rescanned=%q Fetched=%d Recorded=%d Duplicates=%d, want [Junk] 2 1 1", st.Rescanned, st.Fetched, st.Recorded, st.Duplicates)
		}
		cs, err := db.Contacts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 5 {
			t.Fatalf("contacts=%d, want 5", len(cs))
		}
	})
}

func TestIMAPJunkFoundByName(t *testing.T) {
	srv := startMemIMAP(t, memIMAPOptions{junkName: "Spam", noSpecial: true})
	srv.append(t, "Spam", scamMail(1, "x@canary.example"))
	in, db := imapTestDB(t)
	p := srv.poller(in, db)
	st, err := p.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Mailboxes, []string{"INBOX", "Spam"}) || st.Recorded != 1 {
		t.Fatalf("Mailboxes=%q Recorded=%d, want [INBOX Spam] 1", st.Mailboxes, st.Recorded)
	}
	p.Config.NoJunk = true
	p.Config.Mailboxes = []string{"Archive"}
	st, err = p.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Mailboxes, []string{"Archive"}) {
		t.Fatalf("Mailboxes=%q, want [Archive]", st.Mailboxes)
	}
}

func TestIMAPTooLarge(t *testing.T) {
	srv := startMemIMAP(t, memIMAPOptions{})
	big := scamMail(1, "big@canary.example") + strings.Repeat("padding line of a large attachment\r\n", 200)
	srv.append(t, "INBOX", big, scamMail(2, "small@canary.example"))
	in, db := imapTestDB(t)
	p := srv.poller(in, db)
	p.Config.MaxSize = 2000
	st, err := p.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.TooLarge != 1 || st.Recorded != 2 {
		t.Fatalf("TooLarge=%d Recorded=%d, want 1 and 2", st.TooLarge, st.Recorded)
	}
	cs, err := db.Contacts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range cs {
		if slices.Contains(c.To, "big@canary.example") {
			found = true
			if c.RawSize >= int64(len(big)) || !slices.ContainsFunc(c.Problems, func(p string) bool { return strings.Contains(p, "only its header") }) {
				t.Fatalf("large message: RawSize=%d Problems=%q, want its header only and a problem saying so", c.RawSize, c.Problems)
			}
		}
	}
	if !found {
		t.Fatalf("the large message's recipient was not recorded")
	}
}

func TestIMAPAuthservID(t *testing.T) {
	mail := strings.ReplaceAll(`Authentication-Results: mx.mail.example; dkim=pass (2048-bit key; secure) header.d=shop.example header.s=s1;
 spf=pass (mx.mail.example: domain of bounce@mail.shop.example designates 192.0.2.1 as permitted sender) smtp.mailfrom=bounce@mail.shop.example
Authentication-Results: mx.mail.example; dkim=pass header.d=forged.example
Authentication-Results: evil.example; dkim=pass header.d=evil-claims.example
Received: from mail.shop.example by mx.mail.example; Mon, 2 Nov 2026 10:00:00 +0700
From: Shop <orders@shop.example>
To: linh.tran.k7q2@canary.example
Subject: Your order

Thanks.
`, "\n", "\r\n")
	tests := []struct {
		name, authserv string
		want           []string
	}{
		{"trusted id", "mx.mail.example", []string{"shop.example"}},
		{"no id configured", "", nil},
		{"another id", "evil.example", []string{"evil-claims.example"}},
		{"unknown id", "other.example", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startMemIMAP(t, memIMAPOptions{})
			srv.append(t, "INBOX", mail)
			in, db := imapTestDB(t)
			p := srv.poller(in, db)
			p.Config.AuthservID = tt.authserv
			if _, err := p.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			cs, err := db.Contacts(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != 1 {
				t.Fatalf("contacts=%d, want 1", len(cs))
			}
			if !slices.Equal(cs[0].AuthDomains, tt.want) {
				t.Fatalf("AuthDomains=%q, want %q", cs[0].AuthDomains, tt.want)
			}
			if tt.authserv != "" && !strings.Contains(cs[0].Auth, `"authserv_id":"`+tt.authserv+`"`) {
				t.Fatalf("Auth=%s, want the authserv-id recorded", cs[0].Auth)
			}
		})
	}
}

func TestCheckIMAPConfig(t *testing.T) {
	base := ingest.IMAPConfig{Server: "imap.mail.example:993", User: "u", Password: "p"}
	tests := []struct {
		name   string
		modify func(*ingest.IMAPConfig)
		ok     bool
	}{
		{"tls by default", func(*ingest.IMAPConfig) {}, true},
		{"starttls", func(c *ingest.IMAPConfig) { c.Security = ingest.IMAPStartTLS }, true},
		{"plain to a remote host", func(c *ingest.IMAPConfig) { c.Security = ingest.IMAPPlain }, false},
		{"plain to 127.0.0.1", func(c *ingest.IMAPConfig) { c.Security, c.Server = ingest.IMAPPlain, "127.0.0.1:143" }, true},
		{"plain to ::1", func(c *ingest.IMAPConfig) { c.Security, c.Server = ingest.IMAPPlain, "[::1]:143" }, true},
		{"plain to localhost", func(c *ingest.IMAPConfig) { c.Security, c.Server = ingest.IMAPPlain, "localhost:143" }, true},
		{"plain to a name that merely starts with 127", func(c *ingest.IMAPConfig) { c.Security, c.Server = ingest.IMAPPlain, "127.0.0.1.evil.example:143" }, false},
		{"no port", func(c *ingest.IMAPConfig) { c.Server = "imap.mail.example" }, false},
		{"no password", func(c *ingest.IMAPConfig) { c.Password = "" }, false},
		{"unknown security", func(c *ingest.IMAPConfig) { c.Security = "ssl3" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.modify(&cfg)
			err := ingest.CheckIMAPConfig(cfg)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckIMAPConfig=%v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// testTLS returns a server config with a fresh self-signed certificate for
// 127.0.0.1 and a client config that trusts it.
func testTLS(tb testing.TB) (server, client *tls.Config) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

func TestIMAPTLS(t *testing.T) {
	srvTLS, cliTLS := testTLS(t)
	for _, sec := range []string{ingest.IMAPTLS, ingest.IMAPStartTLS} {
		t.Run(sec, func(t *testing.T) {
			o := memIMAPOptions{startTLS: srvTLS}
			if sec == ingest.IMAPTLS {
				o = memIMAPOptions{tls: srvTLS}
			}
			srv := startMemIMAP(t, o)
			in, db := imapTestDB(t)
			p := &ingest.IMAPPoller{In: in, State: db, Config: ingest.IMAPConfig{Server: srv.addr, User: imapTestUser,
				Password: imapTestPassword, Security: sec, TLSConfig: cliTLS}}
			if _, err := p.Sync(context.Background()); err != nil {
				t.Fatalf("Sync over %s: %v", sec, err)
			}
			p.Config.TLSConfig = nil // the system roots do not know the test certificate
			if _, err := p.Sync(context.Background()); err == nil {
				t.Fatalf("Sync over %s with an untrusted certificate succeeded", sec)
			}
		})
	}
}

func TestIMAPWrongPasswordIsNotRetried(t *testing.T) {
	srv := startMemIMAP(t, memIMAPOptions{})
	in, db := imapTestDB(t)
	p := srv.poller(in, db)
	p.Config.Password = "wrong"
	dials := 0
	p.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials++
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	if _, err := p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "log in") {
		t.Fatalf("Run=%v, want a login error", err)
	}
	if dials != 1 {
		t.Fatalf("dials=%d, want 1: a refused password is not retried", dials)
	}
}

// dropOnce wraps dials so a test can cut the first connection mid-sync.
type dropOnce struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (d *dropOnce) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

func (d *dropOnce) dropFirst() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.conns) > 0 {
		d.conns[0].Close()
	}
}

func TestIMAPReconnectsAfterDrop(t *testing.T) {
	srv := startMemIMAP(t, memIMAPOptions{})
	var mails []string
	for i := range 250 {
		mails = append(mails, scamMail(i, fmt.Sprintf("r%d@canary.example", i)))
	}
	srv.append(t, "INBOX", mails...)
	in, db := imapTestDB(t)
	p := srv.poller(in, db)
	d := &dropOnce{}
	p.Dial = d.dial
	p.Config.Progress = func(pr ingest.Progress) {
		if pr.Done == 120 {
			d.dropFirst()
		}
	}
	st, err := p.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(d.conns) < 2 {
		t.Fatalf("dials=%d, want a reconnect", len(d.conns))
	}
	srcs := contactsBySource(t, db)
	if len(srcs) != 250 {
		t.Fatalf("contacts=%d, want 250 (Recorded=%d Duplicates=%d)", len(srcs), st.Recorded, st.Duplicates)
	}
	for s, n := range srcs {
		if n != 1 {
			t.Fatalf("%s recorded %d times", s, n)
		}
	}
}

func TestIMAPIdle(t *testing.T) {
	srv := startMemIMAP(t, memIMAPOptions{})
	srv.append(t, "INBOX", scamMail(1, "a@canary.example"))
	in, db := imapTestDB(t)
	p := srv.poller(in, db)
	p.Config.Idle = true
	recorded := make(chan int, 16)
	p.Config.Progress = func(pr ingest.Progress) { recorded <- pr.Recorded }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := p.Run(ctx)
		done <- err
	}()
	if n := <-recorded; n != 1 {
		t.Fatalf("first sync recorded %d, want 1", n)
	}
	srv.append(t, "INBOX", scamMail(2, "b@canary.example"))
	if n := <-recorded; n != 2 {
		t.Fatalf("after new mail, recorded %d, want 2", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel=%v, want nil", err)
	}
}

// dovecot is a Dovecot IMAP server started by a test on a loopback port,
// with its own configuration and mail directory, run as the current user
// (as root, Dovecot itself drops to its login users and to nobody for mail).
type dovecot struct {
	dir, conf, addr, bin string
	cmd                  *exec.Cmd
	uid, gid             int
	owner                testing.TB // stops the server when its test ends
}

const dovecotUser, dovecotPassword = "advocate", "s3cret-test-only"

func startDovecot(tb testing.TB) *dovecot {
	tb.Helper()
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/dovecot"); err2 != nil {
			tb.Skipf("dovecot is not installed (apt-get install dovecot-imapd; .ci/run does): %v", err)
		}
		bin = "/usr/sbin/dovecot"
	}
	dir, err := os.MkdirTemp("", "leaktrace-dovecot-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	d := &dovecot{dir: dir, conf: filepath.Join(dir, "dovecot.conf"), bin: bin, uid: os.Getuid(), gid: os.Getgid(), owner: tb}
	me, err := user.Current()
	if err != nil {
		tb.Fatal(err)
	}
	loginUser, internalUser, internalGroup := me.Username, me.Username, me.Username
	if g, err := user.LookupGroupId(strconv.Itoa(d.gid)); err == nil {
		internalGroup = g.Name
	}
	if d.uid == 0 {
		// Dovecot refuses to run mail processes as root: they run as nobody.
		if err := os.Chmod(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		nobody, err := user.Lookup("nobody")
		if err != nil {
			tb.Skipf("running as root and there is no user nobody for Dovecot's mail processes: %v", err)
		}
		d.uid, _ = strconv.Atoi(nobody.Uid)
		d.gid, _ = strconv.Atoi(nobody.Gid)
		loginUser, internalUser, internalGroup = "nobody", "nobody", ""
		if _, err := user.Lookup("dovenull"); err == nil {
			loginUser = "dovenull"
		}
		if _, err := user.Lookup("dovecot"); err == nil {
			internalUser, internalGroup = "dovecot", "dovecot"
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	d.addr = ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(d.addr)
	group := ""
	if internalGroup != "" {
		group = "default_internal_group = " + internalGroup + "\n"
	}
	conf := `protocols = imap
listen = 127.0.0.1
base_dir = ` + dir + `/run
state_dir = ` + dir + `/state
log_path = ` + dir + `/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:` + dir + `/mail/%u
first_valid_uid = ` + strconv.Itoa(d.uid) + `
first_valid_gid = ` + strconv.Itoa(d.gid) + `
default_login_user = ` + loginUser + `
default_internal_user = ` + internalUser + `
` + group + `passdb {
  driver = static
  args = password=` + dovecotPassword + `
}
userdb {
  driver = static
  args = uid=` + strconv.Itoa(d.uid) + ` gid=` + strconv.Itoa(d.gid) + ` home=` + dir + `/home/%u
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = ` + port + `
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
namespace inbox {
  inbox = yes
  mailbox Junk {
    special_use = \Junk
    auto = create
  }
}
`
	if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	for _, sub := range []string{"run", "state", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	d.start(tb)
	return d
}

// restart starts the server again after stop.
func (d *dovecot) restart(tb testing.TB) {
	tb.Helper()
	d.start(tb)
}

func (d *dovecot) start(tb testing.TB) {
	tb.Helper()
	d.cmd = exec.Command(d.bin, "-F", "-c", d.conf)
	d.cmd.Stderr = os.Stderr
	if err := d.cmd.Start(); err != nil {
		tb.Fatalf("start dovecot: %v", err)
	}
	cmd := d.cmd
	d.owner.Cleanup(func() { d.stopCmd(cmd) })
	// Wait until it accepts connections (or has died).
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for {
		c, err := net.Dial("tcp", d.addr)
		if err == nil {
			c.Close()
			return
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
			tb.Fatalf("dovecot exited: %v\n%s", err, log)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (d *dovecot) stopCmd(cmd *exec.Cmd) {
	if cmd.Process != nil {
		cmd.Process.Signal(syscall.SIGTERM)
	}
}

// stop stops the server and waits until its port is free.
func (d *dovecot) stop(tb testing.TB) {
	tb.Helper()
	pid, err := os.ReadFile(filepath.Join(d.dir, "run", "master.pid"))
	if err != nil {
		tb.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
	if err := syscall.Kill(n, syscall.SIGTERM); err != nil {
		tb.Fatal(err)
	}
	for {
		if syscall.Kill(n, 0) != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deliver writes messages straight into the user's Maildir, as the local
// delivery agent would.
func (d *dovecot) deliver(tb testing.TB, mailbox string, raws []string) {
	tb.Helper()
	box := filepath.Join(d.dir, "mail", dovecotUser)
	if mailbox != "INBOX" {
		box = filepath.Join(box, "."+mailbox)
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(box, sub), 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	for i, raw := range raws {
		name := fmt.Sprintf("%d.M%dP%d.leaktrace-test", time.Now().UnixNano(), i, os.Getpid())
		if err := os.WriteFile(filepath.Join(box, "new", name), []byte(raw), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	if os.Getuid() == 0 {
		err := filepath.Walk(filepath.Join(d.dir, "mail"), func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, d.uid, d.gid)
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// A few hundred messages through a real server: the connection is cut
// half-way, the poller reconnects and resumes, the server is restarted,
// and every message is recorded exactly once.
func TestIMAPDovecot(t *testing.T) {
	d := startDovecot(t)
	n := 300
	if v, err := strconv.Atoi(os.Getenv("LEAKTRACE_DOVECOT_MESSAGES")); err == nil && v > 0 {
		n = v // a larger first sync, to measure
	}
	var inbox, junk []string
	for i := range n {
		if i%5 == 0 {
			junk = append(junk, scamMail(i, fmt.Sprintf("junk%d@canary.example", i)))
		} else {
			inbox = append(inbox, scamMail(i, fmt.Sprintf("inbox%d@canary.example", i)))
		}
	}
	d.deliver(t, "INBOX", inbox)
	d.deliver(t, "Junk", junk)
	in, db := imapTestDB(t)
	drop := &dropOnce{}
	p := &ingest.IMAPPoller{In: in, State: db, Dial: drop.dial, Config: ingest.IMAPConfig{
		Server: d.addr, User: dovecotUser, Password: dovecotPassword, Security: ingest.IMAPPlain}}
	p.Config.Progress = func(pr ingest.Progress) {
		if pr.Source == "INBOX" && pr.Done == n*4/5/2 {
			drop.dropFirst()
		}
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	st, err := p.Run(context.Background())
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
		t.Fatalf("Run: %v\n%s", err, log)
	}
	elapsed := time.Since(start)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	t.Logf("synced %d messages in %s (with one dropped connection); %d MiB allocated, heap in use %d MiB",
		st.Fetched, elapsed.Round(time.Millisecond), (after.TotalAlloc-before.TotalAlloc)>>20, after.HeapInuse>>20)
	if len(drop.conns) < 2 {
		t.Fatalf("connections=%d, want the cut one and a reconnect", len(drop.conns))
	}
	if !slices.Equal(st.Mailboxes, []string{"INBOX", "Junk"}) {
		t.Fatalf("Mailboxes=%q, want INBOX and Junk (found by \\Junk)", st.Mailboxes)
	}
	checkOnce := func(want int) {
		t.Helper()
		cs, err := db.Contacts(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, c := range cs {
			for _, to := range c.To {
				seen[to]++
			}
		}
		if len(cs) != want || len(seen) != want {
			t.Fatalf("contacts=%d recipients=%d, want %d each", len(cs), len(seen), want)
		}
		for to, k := range seen {
			if k != 1 {
				t.Fatalf("%s recorded %d times", to, k)
			}
		}
	}
	checkOnce(n)

	t.Run("restart and new mail", func(t *testing.T) {
		d.stop(t)
		d.deliver(t, "INBOX", []string{scamMail(1000, "after-restart@canary.example")})
		d.restart(t)
		p.Dial, p.Config.Progress = nil, nil
		st, err := p.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Fetched != 1 || st.Recorded != 1 {
			t.Fatalf("Fetched=%d Recorded=%d, want only the new message", st.Fetched, st.Recorded)
		}
		checkOnce(n + 1)
	})
	t.Run("nothing marked read", func(t *testing.T) {
		c, err := imapclient.DialInsecure(d.addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(dovecotUser, dovecotPassword).Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			t.Fatal(err)
		}
		data, err := c.Search(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
		if err != nil {
			log, _ := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
			t.Fatalf("search: %v\n%s", err, log)
		}
		if len(data.AllSeqNums()) != 0 {
			t.Fatalf("%d messages are \\Seen after the sync, want none", len(data.AllSeqNums()))
		}
	})
}
