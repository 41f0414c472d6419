package ingest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/leaktrace/leaktrace/canary"
)

// IMAP connection security.
const (
	IMAPTLS      = "tls"      // implicit TLS (port 993)
	IMAPStartTLS = "starttls" // STARTTLS on a plain connection (port 143)
	IMAPPlain    = "plain"    // no TLS: loopback servers only
)

// Defaults of IMAPConfig.
const (
	DefaultIMAPMaxSize = 64 << 20
	// maxIMAPRescan is the longest the poller stays in IDLE: servers may
	// drop an IDLE after 30 minutes (RFC 2177), and other mailboxes than
	// the watched one are only seen when it wakes.
	maxIMAPRescan  = 25 * time.Minute
	imapBatchBytes = 16 << 20
	imapBatchCount = 100
)

// IMAPConfig says which mailboxes to read and how to reach them.
type IMAPConfig struct {
	Server    string // host:port
	User      string
	Password  string
	Security  string   // IMAPTLS (default), IMAPStartTLS or IMAPPlain
	Mailboxes []string // default INBOX
	NoJunk    bool     // leave out the Junk folder, which is read by default
	// AuthservID is the authserv-id of the user's own mail host, whose
	// Authentication-Results are believed. Empty: none are.
	AuthservID string
	MaxSize    int64 // largest message fetched whole (default DefaultIMAPMaxSize)
	Idle       bool  // keep watching after the first sync
	// Rescan is how often every mailbox is read again while idling
	// (default and at most 25 minutes).
	Rescan time.Duration
	// Retries is how many times a one-shot sync reconnects after a dropped
	// connection before giving up (default 5). With Idle it retries forever.
	Retries   int
	TLSConfig *tls.Config
	// Trace receives the raw protocol, credentials included: only behind --trace.
	Trace    io.Writer
	Progress func(Progress)
}

// IMAPStats counts what a sync did.
type IMAPStats struct {
	Mailboxes  []string `json:"mailboxes"`
	Fetched    int      `json:"fetched"`
	Recorded   int      `json:"recorded"`
	Duplicates int      `json:"duplicates"`
	TooLarge   int      `json:"too_large"` // recorded from their header only
	Rescanned  []string `json:"rescanned,omitempty"`
}

// IMAPPoller reads mailboxes over IMAP into the Ingester. It only ever
// EXAMINEs mailboxes and fetches with BODY.PEEK, so it marks nothing read
// and changes nothing on the server.
type IMAPPoller struct {
	In     *Ingester
	State  canary.MailboxStateStore
	Log    *slog.Logger
	Config IMAPConfig

	// Dial replaces the network dial (tests). nil: net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Attribute keys of the poller's log lines.
const (
	logKeyMailbox = "mailbox"
	logKeyServer  = "server"
	logKeyErr     = "err"
	logKeyRetryIn = "retry_in"
	logKeyCount   = "count"
)

func (p *IMAPPoller) log() *slog.Logger {
	if p.Log != nil {
		return p.Log.With("component", "imap")
	}
	return slog.New(slog.DiscardHandler)
}

// CheckIMAPConfig says what is wrong with cfg before any connection is made.
func CheckIMAPConfig(cfg IMAPConfig) error {
	host, _, err := net.SplitHostPort(cfg.Server)
	if err != nil {
		return canary.Invalidf("--server %q: give HOST:PORT (993 for TLS, 143 for STARTTLS)", cfg.Server)
	}
	if cfg.User == "" {
		return canary.Invalidf("--user is empty")
	}
	if cfg.Password == "" {
		return canary.Invalidf("the password is empty: set --password-env to a variable holding it, or --password-file")
	}
	switch cfg.Security {
	case "", IMAPTLS, IMAPStartTLS:
	case IMAPPlain:
		if !isLoopbackHost(host) {
			return canary.Invalidf("--security plain sends the password in clear: allowed only to a loopback server, not %s", host)
		}
	default:
		return canary.Invalidf("--security %q: use tls, starttls or plain (loopback only)", cfg.Security)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// permanentError is an error that reconnecting will not cure.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Run syncs every mailbox once, reconnecting after dropped connections;
// with Config.Idle it then keeps watching until ctx is done.
func (p *IMAPPoller) Run(ctx context.Context) (*IMAPStats, error) {
	if err := CheckIMAPConfig(p.Config); err != nil {
		return nil, err
	}
	total := &IMAPStats{}
	retries := p.Config.Retries
	if retries <= 0 {
		retries = 5
	}
	backoff := time.Second
	for attempt := 0; ; attempt++ {
		fetchedBefore := total.Fetched
		err := p.session(ctx, total)
		if err == nil || ctx.Err() != nil {
			if ctx.Err() != nil && p.Config.Idle {
				return total, nil // stopped by the user while watching
			}
			if err == nil {
				return total, nil
			}
			return total, ctx.Err()
		}
		var perm permanentError
		if errors.As(err, &perm) || (!p.Config.Idle && attempt >= retries) {
			return total, err
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		p.log().Warn("imap connection lost, reconnecting", logKeyServer, p.Config.Server, logKeyErr, err, logKeyRetryIn, wait)
		select {
		case <-ctx.Done():
			if p.Config.Idle {
				return total, nil
			}
			return total, ctx.Err()
		case <-time.After(wait):
		}
		backoff = min(backoff*2, 5*time.Minute)
		if total.Fetched > fetchedBefore {
			backoff, attempt = time.Second, 0 // progress was made: the link works
		}
	}
}

// Sync reads every mailbox once on one connection.
func (p *IMAPPoller) Sync(ctx context.Context) (*IMAPStats, error) {
	if err := CheckIMAPConfig(p.Config); err != nil {
		return nil, err
	}
	cfg := p.Config
	cfg.Idle = false
	q := *p
	q.Config = cfg
	st := &IMAPStats{}
	err := q.session(ctx, st)
	return st, err
}

// session is one connection: sync all, then (with Idle) watch.
func (p *IMAPPoller) session(ctx context.Context, st *IMAPStats) error {
	wake := make(chan struct{}, 1)
	c, err := p.connect(ctx, wake)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	boxes, err := p.mailboxes(c)
	if err != nil {
		return p.ctxErr(ctx, err)
	}
	st.Mailboxes = boxes
	for {
		for _, mb := range boxes {
			if err := p.syncMailbox(ctx, c, mb, st); err != nil {
				return p.ctxErr(ctx, err)
			}
		}
		if !p.Config.Idle {
			_ = c.Logout().Wait()
			return nil
		}
		if err := p.idle(ctx, c, boxes[0], wake); err != nil {
			return p.ctxErr(ctx, err)
		}
	}
}

func (p *IMAPPoller) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (p *IMAPPoller) connect(ctx context.Context, wake chan struct{}) (*imapclient.Client, error) {
	cfg := p.Config
	host, _, _ := net.SplitHostPort(cfg.Server)
	opts := &imapclient.Options{
		DebugWriter: cfg.Trace,
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case wake <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	dial := p.Dial
	if dial == nil {
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: time.Minute}
		dial = d.DialContext
	}
	conn, err := dial(ctx, "tcp", cfg.Server)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Server, err)
	}
	tlsCfg := cfg.TLSConfig.Clone()
	if tlsCfg == nil {
		tlsCfg = &tls.Config{}
	}
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName = host
	}
	if tlsCfg.MinVersion == 0 {
		tlsCfg.MinVersion = tls.VersionTLS12
	}
	var c *imapclient.Client
	switch cfg.Security {
	case IMAPPlain:
		c = imapclient.New(conn, opts)
	case IMAPStartTLS:
		opts.TLSConfig = tlsCfg
		c, err = imapclient.NewStartTLS(conn, opts)
		if err != nil {
			return nil, fmt.Errorf("starttls with %s: %w", cfg.Server, err)
		}
	default:
		if len(tlsCfg.NextProtos) == 0 {
			tlsCfg.NextProtos = []string{"imap"}
		}
		tc := tls.Client(conn, tlsCfg)
		hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("tls with %s: %w", cfg.Server, err)
		}
		c = imapclient.New(tc, opts)
	}
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, fmt.Errorf("greeting of %s: %w", cfg.Server, err)
	}
	if err := c.Login(cfg.User, cfg.Password).Wait(); err != nil {
		c.Close()
		var ie *imap.Error
		if errors.As(err, &ie) {
			return nil, permanentError{fmt.Errorf("log in to %s as %s: %w", cfg.Server, cfg.User, err)}
		}
		return nil, fmt.Errorf("log in to %s as %s: %w", cfg.Server, cfg.User, err)
	}
	return c, nil
}

// junkNames are what mail hosts call the spam folder when they do not
// mark it with the SPECIAL-USE attribute \Junk.
var junkNames = []string{"Junk", "Spam", "Junk E-mail", "Junk Email", "Bulk Mail", "[Gmail]/Spam", "INBOX.Junk", "INBOX.Spam", "INBOX/Junk", "INBOX/Spam"}

// mailboxes returns the mailboxes to read: the configured ones (INBOX by
// default) and, unless NoJunk, the Junk folder, where the host's filter puts
// the scam mail this tool is after.
func (p *IMAPPoller) mailboxes(c *imapclient.Client) ([]string, error) {
	boxes := slices.Clone(p.Config.Mailboxes)
	if len(boxes) == 0 {
		boxes = []string{"INBOX"}
	}
	if p.Config.NoJunk {
		return boxes, nil
	}
	var opts *imap.ListOptions
	if c.Caps().Has(imap.CapSpecialUse) {
		opts = &imap.ListOptions{ReturnSpecialUse: true}
	}
	list, err := c.List("", "*", opts).Collect()
	if err != nil {
		return nil, fmt.Errorf("list mailboxes: %w", err)
	}
	junk := ""
	for _, l := range list {
		if slices.Contains(l.Attrs, imap.MailboxAttrJunk) && !slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) {
			junk = l.Mailbox
			break
		}
	}
	if junk == "" {
	names:
		for _, n := range junkNames {
			for _, l := range list {
				if strings.EqualFold(l.Mailbox, n) && !slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) {
					junk = l.Mailbox
					break names
				}
			}
		}
	}
	if junk == "" {
		p.log().Warn("no junk folder found; reading only the named mailboxes", logKeyServer, p.Config.Server)
		return boxes, nil
	}
	if !slices.ContainsFunc(boxes, func(b string) bool { return strings.EqualFold(b, junk) }) {
		boxes = append(boxes, junk)
	}
	return boxes, nil
}

type imapMsgSize struct {
	uid  imap.UID
	size int64
}

// syncMailbox records every message with a UID above the last one read.
// State advances only after a whole batch came back, so a dropped
// connection re-fetches at most one batch, whose contacts are then found to
// be duplicates by their SHA-256.
func (p *IMAPPoller) syncMailbox(ctx context.Context, c *imapclient.Client, name string, st *IMAPStats) error {
	key := canary.MailboxKey{Server: p.Config.Server, User: p.Config.User, Mailbox: name}
	sel, err := c.Select(name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return fmt.Errorf("examine %s: %w", name, err)
	}
	state, err := p.State.MailboxState(ctx, key)
	if err != nil {
		return err
	}
	if state.UIDValidity != 0 && state.UIDValidity != sel.UIDValidity {
		p.log().Warn("mailbox renumbered (UIDVALIDITY changed); reading it again, known messages will be found as duplicates",
			logKeyMailbox, name, "old", state.UIDValidity, "new", sel.UIDValidity)
		st.Rescanned = append(st.Rescanned, name)
		state.LastUID = 0
	}
	state.UIDValidity = sel.UIDValidity
	if sel.NumMessages == 0 || (sel.UIDNext != 0 && uint32(sel.UIDNext) <= state.LastUID+1) {
		return p.State.SaveMailboxState(ctx, key, state)
	}
	// Sizes first: nothing is read whole before its size is known.
	sizes, err := c.Fetch(imap.UIDSet{imap.UIDRange{Start: imap.UID(state.LastUID + 1), Stop: 0}},
		&imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return fmt.Errorf("fetch sizes in %s: %w", name, err)
	}
	var todo []imapMsgSize
	for _, m := range sizes {
		if uint32(m.UID) > state.LastUID {
			todo = append(todo, imapMsgSize{uid: m.UID, size: m.RFC822Size})
		}
	}
	slices.SortFunc(todo, func(a, b imapMsgSize) int { return int(a.uid) - int(b.uid) })
	total := len(todo)
	done := 0
	for len(todo) > 0 {
		n, bytesIn := 0, int64(0)
		for n < len(todo) && n < imapBatchCount && (n == 0 || bytesIn+todo[n].size <= imapBatchBytes) {
			bytesIn += todo[n].size
			n++
		}
		batch := todo[:n]
		todo = todo[n:]
		if err := p.fetchBatch(ctx, c, name, sel.UIDValidity, batch, st, &done, total); err != nil {
			return err
		}
		state.LastUID = uint32(batch[len(batch)-1].uid)
		if err := p.State.SaveMailboxState(ctx, key, state); err != nil {
			return err
		}
	}
	// Every UID below UIDNEXT existed when the mailbox was examined and was
	// fetched above unless it was expunged meanwhile: none is left behind.
	if sel.UIDNext != 0 && uint32(sel.UIDNext)-1 > state.LastUID {
		state.LastUID = uint32(sel.UIDNext) - 1
		if err := p.State.SaveMailboxState(ctx, key, state); err != nil {
			return err
		}
	}
	if total > 0 {
		p.log().Info("mailbox synced", logKeyMailbox, name, logKeyCount, total)
	}
	return nil
}

func (p *IMAPPoller) maxSize() int64 {
	if p.Config.MaxSize > 0 {
		return p.Config.MaxSize
	}
	return DefaultIMAPMaxSize
}

func (p *IMAPPoller) fetchBatch(ctx context.Context, c *imapclient.Client, mailbox string, validity uint32, batch []imapMsgSize, st *IMAPStats, done *int, total int) error {
	var whole, headerOnly imap.UIDSet
	sizeOf := map[imap.UID]int64{}
	for _, m := range batch {
		sizeOf[m.uid] = m.size
		if m.size > p.maxSize() {
			headerOnly.AddNum(m.uid)
		} else {
			whole.AddNum(m.uid)
		}
	}
	fetch := func(set imap.UIDSet, section *imap.FetchItemBodySection) error {
		cmd := c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
		for {
			msg := cmd.Next()
			if msg == nil {
				break
			}
			uid, raw, tooBig, err := p.readFetched(msg)
			if err != nil {
				// The connection broke inside a literal. Draining the command
				// now would read the connection beside imapclient's own reader:
				// close it instead, which ends the command.
				c.Close()
				return fmt.Errorf("read message in %s: %w", mailbox, err)
			}
			if uid == 0 {
				continue
			}
			if err := p.recordFetched(ctx, mailbox, validity, uid, sizeOf[uid], raw, tooBig || section.Specifier == imap.PartSpecifierHeader, st); err != nil {
				cmd.Close()
				return err
			}
			*done++
			if p.Config.Progress != nil {
				p.Config.Progress(Progress{Source: mailbox, Done: *done, Total: total, Recorded: st.Recorded, Duplicates: st.Duplicates, Skipped: st.TooLarge})
			}
		}
		if err := cmd.Close(); err != nil {
			return fmt.Errorf("fetch messages in %s: %w", mailbox, err)
		}
		return nil
	}
	if len(whole) > 0 {
		if err := fetch(whole, &imap.FetchItemBodySection{Peek: true}); err != nil {
			return err
		}
	}
	if len(headerOnly) > 0 {
		if err := fetch(headerOnly, &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}); err != nil {
			return err
		}
	}
	return nil
}

// readFetched reads one FETCH response: its UID and body, the body through
// a reader limited to MaxSize whatever size the server announced.
func (p *IMAPPoller) readFetched(msg *imapclient.FetchMessageData) (imap.UID, []byte, bool, error) {
	var uid imap.UID
	var raw []byte
	tooBig := false
	for {
		item := msg.Next()
		if item == nil {
			break
		}
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			uid = it.UID
		case imapclient.FetchItemDataBodySection:
			if it.Literal == nil {
				continue
			}
			max := p.maxSize()
			var buf bytes.Buffer
			if it.Literal.Size() <= max {
				buf.Grow(int(it.Literal.Size()))
			}
			n, err := io.Copy(&buf, io.LimitReader(it.Literal, max))
			if err != nil {
				return 0, nil, false, err
			}
			if n == max {
				// Anything more is beyond the limit: drain it, keep the head.
				if extra, _ := io.Copy(io.Discard, it.Literal); extra > 0 {
					tooBig = true
				}
			}
			raw = buf.Bytes()
		}
	}
	return uid, raw, tooBig, nil
}

func (p *IMAPPoller) recordFetched(ctx context.Context, mailbox string, validity uint32, uid imap.UID, size int64, raw []byte, partial bool, st *IMAPStats) error {
	st.Fetched++
	source := fmt.Sprintf("imap://%s@%s/%s;UIDVALIDITY=%d/;UID=%d", strings.ReplaceAll(url.PathEscape(p.Config.User), "@", "%40"), p.Config.Server,
		url.PathEscape(mailbox), validity, uid)
	origin := mailOrigin{
		AuthservID: p.Config.AuthservID,
		Receipt: map[string]any{"imap": map[string]any{"server": p.Config.Server, "mailbox": mailbox,
			"uidvalidity": validity, "uid": uint32(uid), "rfc822_size": size}},
	}
	if partial {
		st.TooLarge++
		origin.Problems = append(origin.Problems, fmt.Sprintf("message of %d bytes is over the %d-byte limit: only its header was fetched (raise --max-size to fetch it whole)", size, p.maxSize()))
	}
	rec, err := p.In.emailFrom(ctx, raw, source, origin)
	if err != nil {
		return err
	}
	if rec.Duplicate {
		st.Duplicates++
	} else {
		st.Recorded++
	}
	return nil
}

// idle watches mailbox until new mail arrives or Rescan passes. imapclient
// restarts the IDLE command itself every 28 minutes.
func (p *IMAPPoller) idle(ctx context.Context, c *imapclient.Client, mailbox string, wake chan struct{}) error {
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return fmt.Errorf("examine %s: %w", mailbox, err)
	}
	select {
	case <-wake: // drain what the sync itself caused
	default:
	}
	// Mail that arrived since the sync read this mailbox raises no EXISTS
	// during IDLE: look for it first.
	state, err := p.State.MailboxState(ctx, canary.MailboxKey{Server: p.Config.Server, User: p.Config.User, Mailbox: mailbox})
	if err != nil {
		return err
	}
	if state.UIDValidity != sel.UIDValidity || (sel.UIDNext != 0 && uint32(sel.UIDNext) > state.LastUID+1) {
		return nil
	}
	cmd, err := c.Idle()
	if err != nil {
		return fmt.Errorf("idle on %s: %w", mailbox, err)
	}
	rescan := p.Config.Rescan
	if rescan <= 0 || rescan > maxIMAPRescan {
		rescan = maxIMAPRescan
	}
	timer := time.NewTimer(rescan)
	defer timer.Stop()
	select {
	case <-wake:
	case <-timer.C:
	case <-ctx.Done():
	case <-c.Closed():
	}
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("end idle: %w", err)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("idle on %s: %w", mailbox, err)
	}
	return ctx.Err()
}
