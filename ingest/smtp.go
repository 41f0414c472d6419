package ingest

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/leaktrace/leaktrace/canary"
)

// SMTPConfig holds the receiver's limits. Zero fields take the defaults of
// DefaultSMTPConfig: none of go-smtp's "no limit" defaults stays.
type SMTPConfig struct {
	Hostname        string        // name in the greeting (default: the host name)
	MaxMessageBytes int64         // default 10 MiB
	MaxRecipients   int           // per message, default 100
	ReadTimeout     time.Duration // waiting for a command, default 5 min (RFC 5321 4.5.3.2.7)
	WriteTimeout    time.Duration // writing a reply, default 5 min
	DataBlock       time.Duration // waiting for each block of DATA, default 3 min (4.5.3.2.5)
	DataTimeout     time.Duration // whole DATA transfer, default 10 min (4.5.3.2.6)
	CommitTimeout   time.Duration // checks and durable commit of one message, default 1 min
	MaxConns        int           // total connections, default 256
	MaxConnsPerIP   int           // connections from one address, default 16
	// MaxBytesInFlight bounds the message data all sessions hold at once
	// (default 64 MiB): past it, a session waits up to InFlightWait (30 s)
	// for room and then defers its message with 452. Reading, parsing and
	// matching a message take about fifteen times its size at the peak,
	// so the default keeps a burst of large messages near 1 GiB.
	MaxBytesInFlight int64
	InFlightWait     time.Duration
	// MinFreeBytes is the free disk space below which mail is answered 452
	// rather than filling the disk (default 1 GiB), measured at DiskPath.
	MinFreeBytes uint64
	DiskPath     string
	TLS          *tls.Config // STARTTLS when set
	Trace        io.Writer   // raw protocol dump, credentials included: only behind --trace
}

// DefaultSMTPConfig returns the limits used for fields left at zero.
func DefaultSMTPConfig() SMTPConfig {
	return SMTPConfig{
		MaxMessageBytes:  10 << 20,
		MaxRecipients:    100,
		ReadTimeout:      5 * time.Minute,
		WriteTimeout:     5 * time.Minute,
		DataBlock:        3 * time.Minute,
		DataTimeout:      10 * time.Minute,
		CommitTimeout:    time.Minute,
		MaxConns:         256,
		MaxConnsPerIP:    16,
		MaxBytesInFlight: 64 << 20,
		InFlightWait:     30 * time.Second,
		MinFreeBytes:     1 << 30,
	}
}

func (c SMTPConfig) withDefaults() SMTPConfig {
	d := DefaultSMTPConfig()
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.MaxRecipients <= 0 {
		c.MaxRecipients = d.MaxRecipients
	}
	set(&c.ReadTimeout, d.ReadTimeout)
	set(&c.WriteTimeout, d.WriteTimeout)
	set(&c.DataBlock, d.DataBlock)
	set(&c.DataTimeout, d.DataTimeout)
	set(&c.CommitTimeout, d.CommitTimeout)
	if c.MaxConns <= 0 {
		c.MaxConns = d.MaxConns
	}
	if c.MaxConnsPerIP <= 0 {
		c.MaxConnsPerIP = d.MaxConnsPerIP
	}
	if c.MaxBytesInFlight <= 0 {
		c.MaxBytesInFlight = d.MaxBytesInFlight
	}
	// One message must fit, or the largest allowed could never be taken.
	c.MaxBytesInFlight = max(c.MaxBytesInFlight, c.MaxMessageBytes+2*dataBlock)
	set(&c.InFlightWait, d.InFlightWait)
	if c.MinFreeBytes == 0 {
		c.MinFreeBytes = d.MinFreeBytes
	}
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
		if c.Hostname == "" {
			c.Hostname = "localhost"
		}
	}
	return c
}

// SMTP receives mail for the canary domains and records each message
// through Ingester.Email, like every other source.
type SMTP struct {
	cfg      SMTPConfig
	log      *slog.Logger
	ingester Ingester // template: Matcher and Store are set per message
	store    canary.ContactRecorder
	live     *Live
	auth     *Authenticator
	server   *smtp.Server
	ctx      context.Context // the server's lifetime
	freeDisk func(path string) (uint64, error)
	disk     diskReading
	data     *dataBuffers

	draining atomic.Bool
	mu       sync.Mutex
	conns    map[*limitConn]struct{} // open connections, with or without a session
}

// NewSMTP builds the receiver. in supplies Limits, Log and Now; store is
// where contacts go (the batching writer); live holds the canary domains
// and tokens. ctx is the server's lifetime.
func NewSMTP(ctx context.Context, cfg SMTPConfig, in Ingester, store canary.ContactRecorder, live *Live, auth *Authenticator, log *slog.Logger) (*SMTP, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	s := &SMTP{cfg: cfg, log: log, ingester: in, store: store, live: live, auth: auth, ctx: ctx,
		freeDisk: diskFree, conns: map[*limitConn]struct{}{}, data: newDataBuffers(cfg.MaxBytesInFlight, cfg.InFlightWait)}
	if s.auth == nil {
		s.auth = &Authenticator{}
	}
	srv := smtp.NewServer(s)
	srv.Domain = cfg.Hostname
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	srv.MaxLineLength = 2000
	srv.ReadTimeout = cfg.ReadTimeout
	srv.WriteTimeout = cfg.WriteTimeout
	srv.TLSConfig = cfg.TLS
	srv.AllowInsecureAuth = false
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelError)
	if cfg.Trace != nil {
		srv.Debug = cfg.Trace
	}
	s.server = srv
	return s, nil
}

// Serve accepts connections on l until Shutdown, with the connection limits applied.
func (s *SMTP) Serve(l net.Listener) error {
	ll := &limitListener{Listener: l, max: s.cfg.MaxConns, perIP: s.cfg.MaxConnsPerIP, per: map[string]int{}, log: s.log, srv: s}
	err := s.server.Serve(ll)
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections, lets every message already in
// transfer finish (its 250 is sent only after its commit), closes the idle
// sessions, and returns when all sessions are gone or ctx ends, in which
// case the remaining connections are cut.
func (s *SMTP) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	done := make(chan error, 1)
	go func() { done <- s.server.Shutdown(ctx) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s.closeIdle()
		select {
		case err := <-done:
			if errors.Is(err, smtp.ErrServerClosed) {
				return nil
			}
			if err != nil {
				s.server.Close()
				return fmt.Errorf("drain smtp sessions: %w", err)
			}
			return nil
		case <-tick.C:
		}
	}
}

func (s *SMTP) closeIdle() {
	s.mu.Lock()
	var idle []net.Conn
	for c := range s.conns {
		if !c.busy.Load() {
			idle = append(idle, c)
		}
	}
	s.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// NewSession implements smtp.Backend.
func (s *SMTP) NewSession(c *smtp.Conn) (smtp.Session, error) {
	if s.draining.Load() {
		return nil, errShuttingDown
	}
	_, isTLS := c.TLSConnectionState()
	ss := &session{srv: s, conn: c, netConn: c.Conn(), helo: c.Hostname(), tls: isTLS, peer: c.Conn().RemoteAddr().String()}
	if a, ok := c.Conn().RemoteAddr().(*net.TCPAddr); ok {
		ss.ip = a.IP
	}
	nc := c.Conn()
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	ss.lc, _ = nc.(*limitConn)
	if ss.lc == nil {
		ss.lc = &limitConn{} // served on a listener of someone else's
	}
	return ss, nil
}

var (
	errShuttingDown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service shutting down, try again later"}
	errNoStorage    = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Insufficient system storage, try again later"}
	errRelayDenied  = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relaying denied: no such domain here"}
	errBadAddress   = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Bad recipient address syntax"}
	errTempFailure  = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
	errDataTimeout  = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Timeout reading message data"}
)

// session is one SMTP conversation. go-smtp calls its methods from the
// connection's goroutine (Data from another one during BDAT).
type session struct {
	srv     *SMTP
	conn    *smtp.Conn
	netConn net.Conn
	helo    string
	peer    string
	ip      net.IP
	tls     bool
	lc      *limitConn // its busy flag keeps Shutdown from cutting a transaction

	from  string
	rcpts []string
}

func (ss *session) Reset() {
	ss.from, ss.rcpts = "", nil
	ss.lc.busy.Store(false)
}

func (ss *session) Logout() error {
	ss.lc.busy.Store(false)
	return nil
}

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	if ss.srv.draining.Load() {
		return errShuttingDown
	}
	if !ss.srv.enoughDisk(0) {
		return errNoStorage
	}
	if opts != nil && opts.Size > ss.srv.cfg.MaxMessageBytes {
		return smtp.ErrDataTooLarge
	}
	ss.lc.busy.Store(true)
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	local, domain, ok := canary.SplitAddress(strings.ToLower(to))
	if !ok || local == "" {
		return errBadAddress
	}
	if !ss.srv.live.Serves(domain) {
		ss.srv.log.Info("recipient refused", "domain", domain, "peer", ss.peer)
		return errRelayDenied
	}
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	s := ss.srv
	received := s.now()
	held, err := ss.read(r)
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return se
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return errDataTimeout
		}
		s.log.Warn("message data not read", "peer", ss.peer, "err", err)
		return errTempFailure
	}
	defer held.release()
	raw := held.raw
	if !s.enoughDisk(uint64(len(raw))) {
		s.log.Error("free disk below the floor: mail deferred", "path", s.cfg.DiskPath, "floor", s.cfg.MinFreeBytes)
		return errNoStorage
	}
	env := &Envelope{MailFrom: ss.from, RcptTo: slices.Clone(ss.rcpts), Helo: ss.helo, Peer: ss.peer, TLS: ss.tls}
	// The message must be committed even while the server shuts down:
	// its context does not end with the server's, only with its timeout.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), s.cfg.CommitTimeout)
	defer cancel()
	start := time.Now() // what the sender waits for after its final dot
	rec, err := s.record(ctx, raw, env, ss.ip, received)
	if err != nil {
		s.log.Error("message not recorded", "peer", ss.peer, "size", len(raw), "err", err)
		return errTempFailure
	}
	s.log.Info("message accepted", "contact", rec.Contact.ID, "size", len(raw), "duplicate", rec.Duplicate,
		"matches", len(rec.Contact.Matches), "authenticated", len(rec.Contact.AuthDomains), "elapsed", time.Since(start))
	return nil
}

func (s *SMTP) now() time.Time {
	if s.ingester.Now != nil {
		return s.ingester.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *SMTP) enoughDisk(need uint64) bool {
	if s.cfg.DiskPath == "" {
		return true
	}
	free, err := s.disk.free(s.cfg.DiskPath, s.freeDisk)
	if err != nil {
		s.log.Warn("free disk space not known", "path", s.cfg.DiskPath, "err", err)
		return true
	}
	return free >= s.cfg.MinFreeBytes+need
}

// diskReading keeps the free space read from the file system for a moment:
// every message asks twice, and the floor is there to absorb what arrives
// between two readings.
type diskReading struct {
	mu    sync.Mutex
	at    time.Time
	bytes uint64
}

const diskReadingAge = 250 * time.Millisecond

func (d *diskReading) free(path string, read func(string) (uint64, error)) (uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.at.IsZero() && time.Since(d.at) < diskReadingAge {
		return d.bytes, nil
	}
	b, err := read(path)
	if err != nil {
		return 0, err
	}
	d.at, d.bytes = time.Now(), b
	return b, nil
}

// errStaleTokens says the matcher is older than a token the message reached.
var errStaleTokens = errors.New("message reached a token issued after the last reload")

// record verifies the message and records it through Ingester.Email.
func (s *SMTP) record(ctx context.Context, raw []byte, env *Envelope, ip net.IP, at time.Time) (*Recorded, error) {
	auth := s.auth.Check(ctx, raw, env, ip)
	for attempt := 0; ; attempt++ {
		m := s.live.Matcher()
		in := s.ingester
		in.Matcher = m
		in.Store = &receipt{next: s.store, at: at, server: s.cfg.Hostname, auth: auth, raw: raw,
			stale: func(c *canary.Contact) bool {
				return attempt == 0 && slices.ContainsFunc(c.Unissued, m.CheckIssued)
			}}
		rec, err := in.Email(ctx, raw, "smtp", env)
		if errors.Is(err, errStaleTokens) {
			if err := s.live.Reload(ctx); err != nil {
				return nil, err
			}
			continue
		}
		return rec, err
	}
}

// receipt adds to what Ingester.Email built from the message what only
// the receiving server knows (the time of receipt by its own clock, the
// authentication results and the DNS answers they used) and passes the
// contact on to the store.
type receipt struct {
	next   canary.ContactRecorder
	at     time.Time
	server string
	auth   *AuthResult
	raw    []byte
	stale  func(*canary.Contact) bool
}

func (r *receipt) RecordContact(ctx context.Context, c *canary.Contact, raw []byte) (int64, bool, error) {
	if r.stale(c) {
		return 0, false, errStaleTokens
	}
	// The sender's Received headers are claims: a forged early date could
	// drop a party from the candidates. Our clock says when it arrived.
	claimed := c.ReceivedText
	c.ReceivedAt, c.ReceivedText = r.at, r.at.Format(time.RFC1123Z)
	c.Problems = slices.DeleteFunc(c.Problems, func(p string) bool { return strings.HasPrefix(p, "no Received header") })
	if bareDotLine(raw) {
		c.Problems = append(c.Problems, "a lone dot next to a bare CR or LF: an SMTP smuggling attempt or a broken sender; kept as one message")
	}
	c.AuthDomains = r.auth.Domains
	b, err := json.Marshal(serverReceipt{
		ReceivedBy: receivedBy{Server: r.server, At: r.at.Format(time.RFC3339Nano), SenderClaimedTime: claimed},
		AuthResult: r.auth,
	})
	if err != nil {
		return 0, false, fmt.Errorf("encode receipt: %w", err)
	}
	c.Auth = joinObjects(c.Auth, string(b))
	return r.next.RecordContact(ctx, c, raw)
}

// serverReceipt is what only the receiving server knows, added to the
// contact's receipt record beside what the message itself said: when it
// arrived by our clock, and the authentication results with the DNS
// answers they used (the fields of AuthResult, side by side).
type serverReceipt struct {
	ReceivedBy receivedBy `json:"received_by"`
	*AuthResult
}

type receivedBy struct {
	Server            string `json:"server"`
	At                string `json:"at"`
	SenderClaimedTime string `json:"sender_claimed_time"`
}

// joinObjects joins two JSON objects with distinct keys into one, without
// decoding them.
func joinObjects(a, b string) string {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	switch {
	case a == "" || a == "{}":
		return b
	case b == "" || b == "{}":
		return a
	}
	return a[:len(a)-1] + "," + b[1:]
}

// bareDotLine reports a line holding only a dot that is ended or started
// by a bare CR or LF: what SMTP smuggling relies on. "\r\n.\r\n" inside a
// stored message is an ordinary dot-stuffed line and does not count.
func bareDotLine(raw []byte) bool {
	eol := func(b byte) bool { return b == '\r' || b == '\n' }
	for i := 1; i+1 < len(raw); i++ {
		if raw[i] != '.' || !eol(raw[i-1]) || !eol(raw[i+1]) {
			continue
		}
		crlfBefore := i >= 2 && raw[i-2] == '\r' && raw[i-1] == '\n'
		crlfAfter := i+2 < len(raw) && raw[i+1] == '\r' && raw[i+2] == '\n'
		if !crlfBefore || !crlfAfter {
			return true
		}
	}
	return false
}
