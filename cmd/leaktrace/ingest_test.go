package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

type ingestOut struct {
	Recorded   int `json:"recorded"`
	Duplicates int `json:"duplicates"`
	Skipped    int `json:"skipped"`
	Contacts   []struct {
		Source    string `json:"source"`
		Duplicate bool   `json:"duplicate"`
		Matches   int    `json:"matches"`
	} `json:"contacts"`
}

const cliMbox = "From a@scam.example Mon Nov  2 10:00:00 2026\nFrom: a@scam.example\nTo: x1@canary.example\nSubject: one\n\nbody\n\n" +
	"From b@scam.example Mon Nov  2 11:00:00 2026\nFrom: b@scam.example\nTo: x2@canary.example\nSubject: two\n\nbody\n"

func TestIngestMailFilesCLI(t *testing.T) {
	u := newCLI(t)
	u.ok("init")
	u.ok("domain", "add", "canary.example")
	dir := t.TempDir()
	mbox := filepath.Join(dir, "export.mbox")
	if err := os.WriteFile(mbox, []byte(cliMbox), 0o644); err != nil {
		t.Fatal(err)
	}
	var out ingestOut
	u.json(&out, "ingest", "mbox", mbox)
	if out.Recorded != 2 || len(out.Contacts) != 2 || !strings.HasPrefix(out.Contacts[0].Source, "mbox:"+mbox+"#") {
		t.Fatalf("ingest mbox: %+v, want 2 contacts with mbox:PATH#RANGE sources", out)
	}
	u.json(&out, "ingest", "mbox", mbox)
	if out.Recorded != 0 || out.Duplicates != 2 {
		t.Fatalf("second ingest mbox: %+v, want 2 duplicates", out)
	}
	if msg := u.fails("ingest", "mbox", filepath.Join(dir, "missing.mbox")); !strings.Contains(msg, "missing.mbox") {
		t.Fatalf("missing file: %q, want the path named", msg)
	}
	md := filepath.Join(dir, "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(md, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(md, "new", "1.host"), []byte("From: c@scam.example\nTo: x3@canary.example\n\nhi\n"), 0o644)
	os.WriteFile(filepath.Join(md, "tmp", "2.host"), []byte("From: c@scam.example\nTo: x4@canary.example\n\nhi\n"), 0o644)
	u.json(&out, "ingest", "maildir", md)
	if out.Recorded != 1 {
		t.Fatalf("ingest maildir: %+v, want the one message in new/ (tmp/ is being delivered)", out)
	}
}

func startCLIIMAP(tb testing.TB) string {
	tb.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("me@mail.example", "pw-from-env")
	user.Create("INBOX", nil)
	user.Create("Junk", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrJunk}})
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}, imap.CapSpecialUse: {}},
		InsecureAuth: true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	c, err := imapclient.DialInsecure(ln.Addr().String(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("me@mail.example", "pw-from-env").Wait(); err != nil {
		tb.Fatal(err)
	}
	for i, mb := range []string{"INBOX", "Junk"} {
		raw := "From: s@scam.example\r\nTo: imap" + string(rune('a'+i)) + "@canary.example\r\nSubject: hi\r\n\r\nbody\r\n"
		cmd := c.Append(mb, int64(len(raw)), nil)
		cmd.Write([]byte(raw))
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			tb.Fatal(err)
		}
	}
	return ln.Addr().String()
}

func TestIngestIMAPCLI(t *testing.T) {
	u := newCLI(t)
	u.ok("init")
	u.ok("domain", "add", "canary.example")
	addr := startCLIIMAP(t)
	t.Setenv("TEST_IMAP_PW", "pw-from-env")
	var st struct {
		Mailboxes []string `json:"mailboxes"`
		Recorded  int      `json:"recorded"`
		Fetched   int      `json:"fetched"`
	}
	u.json(&st, "ingest", "imap", "--server", addr, "--user", "me@mail.example", "--password-env", "TEST_IMAP_PW", "--security", "plain")
	if st.Recorded != 2 || strings.Join(st.Mailboxes, ",") != "INBOX,Junk" {
		t.Fatalf("ingest imap: %+v, want INBOX and Junk read, 2 recorded", st)
	}
	u.json(&st, "ingest", "imap", "--server", addr, "--user", "me@mail.example", "--password-env", "TEST_IMAP_PW", "--security", "plain")
	if st.Fetched != 0 {
		t.Fatalf("second ingest imap fetched %d, want 0", st.Fetched)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("pw-from-env\n"), 0o600)
	u.ok("ingest", "imap", "--server", addr, "--user", "me@mail.example", "--password-file", pwFile, "--security", "plain")

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no password", []string{"--server", addr, "--user", "u", "--security", "plain"}, "--password-env"},
		{"password as a flag value", []string{"--server", addr, "--user", "u", "--password", "x"}, "password"},
		{"unset variable", []string{"--server", addr, "--user", "u", "--password-env", "NOT_SET_ANYWHERE_42"}, "not set"},
		{"plain to a remote server", []string{"--server", "imap.mail.example:143", "--user", "u", "--password-env", "TEST_IMAP_PW", "--security", "plain"}, "loopback"},
		{"missing password file", []string{"--server", addr, "--user", "me@mail.example", "--password-file", pwFile + "x", "--security", "plain"}, "password file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if msg := u.fails(append([]string{"ingest", "imap"}, tt.args...)...); !strings.Contains(msg, tt.want) {
				t.Fatalf("error %q, want it to mention %q", msg, tt.want)
			}
		})
	}
}

func TestIngestPhoneFilesCLI(t *testing.T) {
	u := newCLI(t)
	u.ok("init")
	u.ok("domain", "add", "canary.example")
	u.ok("investigation", "new", "q4", "--locale", "vi-VN")
	dir := t.TempDir()
	pool := filepath.Join(dir, "pool.csv")
	os.WriteFile(pool, []byte("number\n0912000001\n0912000002\n"), 0o644)
	u.ok("phone", "import", pool, "--quarantine-days", "30")
	u.now = u.now.Add(10 * 24 * time.Hour)

	sms := filepath.Join(dir, "sms.xml")
	ms := u.now.Add(-24 * time.Hour).UnixMilli()
	os.WriteFile(sms, []byte(`<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<smses count="2">
  <sms address="0987654321" date="`+itoa(ms)+`" type="1" body="Chúc mừng bạn trúng thưởng" />
  <sms address="0987654321" date="`+itoa(ms)+`" type="2" body="outbound" />
</smses>
`), 0o644)
	var out ingestOut
	u.json(&out, "ingest", "sms-xml", sms, "--number", "0912000001")
	if out.Recorded != 1 || out.Skipped != 1 {
		t.Fatalf("ingest sms-xml: %+v, want 1 recorded, 1 outbound skipped", out)
	}

	calls := filepath.Join(dir, "calls.csv")
	os.WriteFile(calls, []byte("time,from,to,duration_s,transcript\n"+u.now.Add(-48*time.Hour).In(time.FixedZone("ICT", 7*3600)).Format("02/01/2006 15:04")+",0987654321,0912000001,30,Alo\n"), 0o644)
	u.json(&out, "ingest", "calls", calls)
	if out.Recorded != 1 {
		t.Fatalf("ingest calls: %+v, want 1", out)
	}
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("time,from,to\n2026-10-05T10:00:00+07:00,x,0912000001\n"), 0o644)
	if msg := u.fails("ingest", "calls", bad); !strings.Contains(msg, "duration_s") {
		t.Fatalf("missing column: %q, want duration_s named", msg)
	}

	// Both contacts reached a quarantined number: background noise.
	var list struct {
		Phones []struct {
			Number        string  `json:"number"`
			State         string  `json:"state"`
			NoiseContacts int     `json:"noise_contacts"`
			NoisePerDay   float64 `json:"noise_per_day"`
		} `json:"phones"`
	}
	u.json(&list, "phone", "list")
	if len(list.Phones) != 2 || list.Phones[0].NoiseContacts != 2 || list.Phones[0].NoisePerDay != 0.2 || !strings.HasPrefix(list.Phones[0].State, "quarantine") {
		t.Fatalf("phone list: %+v, want +84912000001 in quarantine with 2 noise contacts over 10 days", list.Phones)
	}
	if out := u.ok("phone", "list"); !strings.Contains(out, "NOISE/DAY") || !strings.Contains(out, "0.20") {
		t.Fatalf("phone list:\n%s\nwant a noise column", out)
	}
	u.ok("phone", "retire", "0912000002", "--why", "SIM lost")
	u.json(&list, "phone", "list")
	if list.Phones[1].State != "retired" {
		t.Fatalf("after retire: %+v, want +84912000002 retired", list.Phones[1])
	}
	if msg := u.fails("phone", "retire", "0912000002"); !strings.Contains(msg, "already") {
		t.Fatalf("retire twice: %q, want 'already'", msg)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
