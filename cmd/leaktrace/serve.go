package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/leaktrace/leaktrace/attribution"
	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/ingest"
	"github.com/leaktrace/leaktrace/sqlite"
)

// serveConfig is everything `leaktrace serve` is told.
type serveConfig struct {
	DB         string
	SMTPAddr   string // "" for no SMTP
	HTTPAddr   string // "" for no HTTP
	SMTP       ingest.SMTPConfig
	MIME       ingest.Limits
	TLSCert    string
	TLSKey     string
	DNS        string
	Tokens     []string // role:secret
	Twilio     ingest.TwilioConfig
	Reload     time.Duration
	Drain      time.Duration
	Trace      bool
	BatchLimit int
	// Resolver replaces the DNS named by DNS (tests run offline).
	Resolver ingest.Resolver
}

// Role names for API tokens.
const (
	roleAdmin  = "admin"
	roleViewer = "viewer"
)

func serveCommand(e *env) *cli.Command {
	d := ingest.DefaultSMTPConfig()
	m := ingest.DefaultLimits()
	return &cli.Command{
		Name:  "serve",
		Usage: "SMTP receiver for the canary domains, Twilio webhooks and the JSON API",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "smtp", EnvVars: []string{"LEAKTRACE_SMTP"}, Usage: "SMTP listen address, e.g. :25 (empty: no SMTP)"},
			&cli.StringFlag{Name: "http", EnvVars: []string{"LEAKTRACE_HTTP"}, Usage: "HTTP listen address for /healthz, /api and webhooks (empty: no HTTP)"},
			&cli.StringFlag{Name: "hostname", EnvVars: []string{"LEAKTRACE_HOSTNAME"}, Usage: "name in the SMTP greeting (default: the host name)"},
			&cli.Int64Flag{Name: "max-message-bytes", Value: d.MaxMessageBytes, EnvVars: []string{"LEAKTRACE_MAX_MESSAGE_BYTES"}, Usage: "largest message accepted"},
			&cli.IntFlag{Name: "max-recipients", Value: d.MaxRecipients, EnvVars: []string{"LEAKTRACE_MAX_RECIPIENTS"}, Usage: "recipients per message"},
			&cli.DurationFlag{Name: "read-timeout", Value: d.ReadTimeout, EnvVars: []string{"LEAKTRACE_READ_TIMEOUT"}, Usage: "wait for an SMTP command"},
			&cli.DurationFlag{Name: "write-timeout", Value: d.WriteTimeout, EnvVars: []string{"LEAKTRACE_WRITE_TIMEOUT"}, Usage: "write an SMTP reply"},
			&cli.DurationFlag{Name: "data-block-timeout", Value: d.DataBlock, EnvVars: []string{"LEAKTRACE_DATA_BLOCK_TIMEOUT"}, Usage: "wait for each block of message data"},
			&cli.DurationFlag{Name: "data-timeout", Value: d.DataTimeout, EnvVars: []string{"LEAKTRACE_DATA_TIMEOUT"}, Usage: "whole message transfer"},
			&cli.IntFlag{Name: "max-connections", Value: d.MaxConns, EnvVars: []string{"LEAKTRACE_MAX_CONNECTIONS"}, Usage: "SMTP connections in total"},
			&cli.IntFlag{Name: "max-connections-per-ip", Value: d.MaxConnsPerIP, EnvVars: []string{"LEAKTRACE_MAX_CONNECTIONS_PER_IP"}, Usage: "SMTP connections from one address"},
			&cli.Int64Flag{Name: "max-bytes-in-flight", Value: d.MaxBytesInFlight, EnvVars: []string{"LEAKTRACE_MAX_BYTES_IN_FLIGHT"}, Usage: "message data all SMTP sessions may hold at once; past it mail waits, then is deferred (452)"},
			&cli.Uint64Flag{Name: "min-free-disk", Value: d.MinFreeBytes, EnvVars: []string{"LEAKTRACE_MIN_FREE_DISK"}, Usage: "bytes free beside the database below which mail is deferred (452)"},
			&cli.IntFlag{Name: "mime-max-depth", Value: m.MaxDepth, EnvVars: []string{"LEAKTRACE_MIME_MAX_DEPTH"}, Usage: "multipart nesting read"},
			&cli.IntFlag{Name: "mime-max-parts", Value: m.MaxParts, EnvVars: []string{"LEAKTRACE_MIME_MAX_PARTS"}, Usage: "MIME parts read per message"},
			&cli.IntFlag{Name: "mime-max-header-bytes", Value: m.MaxHeaderBytes, EnvVars: []string{"LEAKTRACE_MIME_MAX_HEADER_BYTES"}, Usage: "bytes of one header block, nested ones included"},
			&cli.IntFlag{Name: "mime-max-text-bytes", Value: m.MaxTextBytes, EnvVars: []string{"LEAKTRACE_MIME_MAX_TEXT_BYTES"}, Usage: "decoded text kept for matching"},
			&cli.StringFlag{Name: "tls-cert", EnvVars: []string{"LEAKTRACE_TLS_CERT"}, Usage: "certificate (PEM) for STARTTLS"},
			&cli.StringFlag{Name: "tls-key", EnvVars: []string{"LEAKTRACE_TLS_KEY"}, Usage: "its private key (PEM)"},
			&cli.StringFlag{Name: "dns", EnvVars: []string{"LEAKTRACE_DNS"}, Usage: "DNS server (host:port) for DKIM and SPF (default: the system's)"},
			&cli.StringSliceFlag{Name: "token", EnvVars: []string{"LEAKTRACE_TOKENS"}, Usage: "API bearer token as ROLE:SECRET, ROLE admin or viewer (repeat)"},
			&cli.StringFlag{Name: "public-url", EnvVars: []string{"LEAKTRACE_PUBLIC_URL"}, Usage: "scheme and host Twilio calls, e.g. https://canary.example.org"},
			&cli.StringFlag{Name: "twilio-auth-token", EnvVars: []string{"LEAKTRACE_TWILIO_AUTH_TOKEN"}, Usage: "Twilio auth token (prefer the environment variable or --twilio-auth-token-file)"},
			&cli.StringFlag{Name: "twilio-auth-token-file", EnvVars: []string{"LEAKTRACE_TWILIO_AUTH_TOKEN_FILE"}, Usage: "file holding the Twilio auth token"},
			&cli.Int64Flag{Name: "webhook-max-body", Value: 64 << 10, EnvVars: []string{"LEAKTRACE_WEBHOOK_MAX_BODY"}, Usage: "largest webhook body accepted"},
			&cli.StringFlag{Name: "twilio-account-sid", EnvVars: []string{"LEAKTRACE_TWILIO_ACCOUNT_SID"}, Usage: "fetch finished call recordings of this account and keep them as evidence"},
			&cli.StringFlag{Name: "recording-host", Value: "api.twilio.com", EnvVars: []string{"LEAKTRACE_RECORDING_HOST"}, Usage: "the only host recordings are fetched from"},
			&cli.DurationFlag{Name: "reload-interval", Value: 15 * time.Second, EnvVars: []string{"LEAKTRACE_RELOAD_INTERVAL"}, Usage: "how often domains and tokens issued meanwhile are re-read"},
			&cli.DurationFlag{Name: "drain-timeout", Value: time.Minute, EnvVars: []string{"LEAKTRACE_DRAIN_TIMEOUT"}, Usage: "on SIGTERM, how long messages in transfer may take to finish"},
			&cli.BoolFlag{Name: "trace", EnvVars: []string{"LEAKTRACE_TRACE"}, Usage: "dump the raw SMTP protocol to stderr (personal data included)"},
			&cli.StringFlag{Name: "cpu-profile", EnvVars: []string{"LEAKTRACE_CPU_PROFILE"}, Usage: "write a Go CPU profile of the whole run to this file (for finding what is slow)"},
		},
		Action: func(c *cli.Context) error {
			cfg := serveConfig{
				DB: c.String("db"), SMTPAddr: c.String("smtp"), HTTPAddr: c.String("http"),
				SMTP: ingest.SMTPConfig{
					Hostname: c.String("hostname"), MaxMessageBytes: c.Int64("max-message-bytes"), MaxRecipients: c.Int("max-recipients"),
					ReadTimeout: c.Duration("read-timeout"), WriteTimeout: c.Duration("write-timeout"),
					DataBlock: c.Duration("data-block-timeout"), DataTimeout: c.Duration("data-timeout"),
					MaxConns: c.Int("max-connections"), MaxConnsPerIP: c.Int("max-connections-per-ip"), MaxBytesInFlight: c.Int64("max-bytes-in-flight"), MinFreeBytes: c.Uint64("min-free-disk"),
				},
				MIME: ingest.Limits{MaxDepth: c.Int("mime-max-depth"), MaxParts: c.Int("mime-max-parts"),
					MaxHeaderBytes: c.Int("mime-max-header-bytes"), MaxTextBytes: c.Int("mime-max-text-bytes")},
				TLSCert: c.String("tls-cert"), TLSKey: c.String("tls-key"), DNS: c.String("dns"), Tokens: c.StringSlice("token"),
				Twilio: ingest.TwilioConfig{PublicURL: c.String("public-url"), AuthToken: c.String("twilio-auth-token"), MaxBody: c.Int64("webhook-max-body"),
					Recordings: ingest.RecordingFetch{AccountSID: c.String("twilio-account-sid"), Host: c.String("recording-host")}},
				Reload: c.Duration("reload-interval"), Drain: c.Duration("drain-timeout"), Trace: c.Bool("trace"),
			}
			if f := c.String("twilio-auth-token-file"); f != "" {
				b, err := os.ReadFile(f)
				if err != nil {
					return fmt.Errorf("read twilio auth token: %w", err)
				}
				cfg.Twilio.AuthToken = strings.TrimSpace(string(b))
			}
			tuneGC()
			if path := c.String("cpu-profile"); path != "" {
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					return fmt.Errorf("cpu profile: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("cpu profile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			return runServe(c.Context, cfg, e.log, e.now, func(m *Main) {
				fmt.Fprintf(e.stdout, "serving smtp=%s http=%s domains=%s\n", orDash(m.SMTPAddr()), orDash(m.HTTPAddr()), orDash(strings.Join(m.Domains(), ",")))
			})
		},
	}
}

// tuneGC gives the collector a soft memory limit of 1 GiB unless the
// operator set GOMEMLIMIT: a burst of large messages then makes it collect
// sooner rather than let the heap double past what the machine has.
func tuneGC() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(1 << 30)
	}
}

// runServe runs until ctx ends (SIGTERM, SIGINT) or a server fails.
func runServe(ctx context.Context, cfg serveConfig, log *slog.Logger, now func() time.Time, started func(*Main)) error {
	m := NewMain(cfg, log, now)
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	if started != nil {
		started(m)
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-m.errc:
	}
	if err := m.Close(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// Main is the long-running serve process: the database, its batching
// writer, the SMTP receiver and the HTTP server.
type Main struct {
	Config serveConfig
	DB     *sqlite.DB
	SMTP   *ingest.SMTP
	HTTP   *http.Server

	log     *slog.Logger
	now     func() time.Time
	batcher *sqlite.Batcher
	live    *ingest.Live
	smtpLn  net.Listener
	httpLn  net.Listener
	cancel  context.CancelFunc
	errc    chan error
	tokens  []apiToken
}

type apiToken struct {
	role string
	sum  [32]byte
}

// NewMain returns a Main that Run starts.
func NewMain(cfg serveConfig, log *slog.Logger, now func() time.Time) *Main {
	if now == nil {
		now = time.Now
	}
	return &Main{Config: cfg, log: log, now: now, errc: make(chan error, 2)}
}

// Run opens the database, binds the listeners and starts serving. It
// returns once both servers accept connections.
func (m *Main) Run(ctx context.Context) error {
	cfg := m.Config
	if cfg.SMTPAddr == "" && cfg.HTTPAddr == "" {
		return canary.Invalidf("serve needs --smtp ADDR, --http ADDR or both")
	}
	for _, t := range cfg.Tokens {
		role, secret, ok := strings.Cut(t, ":")
		if !ok || (role != roleAdmin && role != roleViewer) || len(secret) < 16 {
			return canary.Invalidf("--token must be admin:SECRET or viewer:SECRET with a secret of at least 16 characters")
		}
		m.tokens = append(m.tokens, apiToken{role: role, sum: sha256.Sum256([]byte(secret))})
	}
	var tlsConf *tls.Config
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("load STARTTLS certificate: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	// A mistyped --db must not become an empty database that refuses
	// every message for good.
	if err := mustExist(cfg.DB); err != nil {
		return err
	}
	db, err := sqlite.Open(ctx, cfg.DB, m.log)
	if err != nil {
		return err
	}
	db.Now = m.now
	m.DB = db
	m.batcher = db.NewBatcher(m.log.With("component", "writer"), sqlite.BatchOptions{MaxContacts: cfg.BatchLimit})
	if m.live, err = ingest.NewLive(ctx, db); err != nil {
		return err
	}
	if cfg.SMTPAddr != "" && len(m.live.Domains()) == 0 {
		// Senders take a 550 as final: the mail would bounce and be lost.
		return canary.Invalidf("no canary domain in %s: every message would be refused with 550 and bounced for good; add one with `leaktrace domain add DOMAIN` first", cfg.DB)
	}
	// The lifetime of background work; the servers' own shutdown is Close's.
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	reload := cfg.Reload
	if reload <= 0 {
		reload = 15 * time.Second
	}
	go m.live.Run(life, reload, m.log)
	in := ingest.Ingester{Limits: cfg.MIME, Log: m.log, Now: m.now}

	if cfg.SMTPAddr != "" {
		sc := cfg.SMTP
		sc.TLS = tlsConf
		sc.DiskPath = filepath.Dir(cfg.DB)
		if cfg.Trace {
			sc.Trace = os.Stderr
		}
		res := cfg.Resolver
		if res == nil {
			res = ingest.NewResolver(cfg.DNS)
		}
		auth := &ingest.Authenticator{Resolver: res, Now: m.now}
		if m.SMTP, err = ingest.NewSMTP(life, sc, in, m.batcher, m.live, auth, m.log.With("component", "smtp")); err != nil {
			return err
		}
		if m.smtpLn, err = net.Listen("tcp", cfg.SMTPAddr); err != nil {
			return fmt.Errorf("listen for smtp: %w", err)
		}
		go func() {
			if err := m.SMTP.Serve(m.smtpLn); err != nil {
				m.errc <- fmt.Errorf("smtp server: %w", err)
			}
		}()
	}
	if cfg.HTTPAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /healthz", m.healthz)
		mux.HandleFunc("GET /api/attribute", m.requireRole(m.attributeJSON, roleAdmin, roleViewer))
		if cfg.Twilio.AuthToken != "" || cfg.Twilio.PublicURL != "" {
			tw, err := ingest.NewTwilio(cfg.Twilio, in, m.batcher, m.live, m.log.With("component", "twilio"))
			if err != nil {
				return err
			}
			tw.Register(mux)
		}
		m.HTTP = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
			ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelError)}
		if m.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return fmt.Errorf("listen for http: %w", err)
		}
		go func() {
			if err := m.HTTP.Serve(m.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				m.errc <- fmt.Errorf("http server: %w", err)
			}
		}()
	}
	if len(m.tokens) == 0 && cfg.HTTPAddr != "" {
		m.log.Warn("no --token given: the JSON API refuses every request")
	}
	return nil
}

// SMTPAddr is the address the SMTP server listens on ("" without one).
func (m *Main) SMTPAddr() string {
	if m.smtpLn == nil {
		return ""
	}
	return m.smtpLn.Addr().String()
}

// HTTPAddr is the address the HTTP server listens on ("" without one).
func (m *Main) HTTPAddr() string {
	if m.httpLn == nil {
		return ""
	}
	return m.httpLn.Addr().String()
}

// Domains are the canary domains received.
func (m *Main) Domains() []string {
	if m.live == nil {
		return nil
	}
	return m.live.Domains()
}

// Close drains: no new connections, messages in transfer finish and are
// committed (within the drain timeout), then the writer and the database
// close.
func (m *Main) Close() error {
	drain := m.Config.Drain
	if drain <= 0 {
		drain = time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	var errs []error
	if m.SMTP != nil {
		errs = append(errs, m.SMTP.Shutdown(ctx))
	} else if m.smtpLn != nil {
		m.smtpLn.Close()
	}
	if m.HTTP != nil {
		errs = append(errs, m.HTTP.Shutdown(ctx))
	}
	if m.cancel != nil {
		m.cancel()
	}
	if m.batcher != nil {
		errs = append(errs, m.batcher.Close())
	}
	if m.DB != nil {
		errs = append(errs, m.DB.Close())
	}
	return errors.Join(errs...)
}

func (m *Main) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	writeJSON(w, map[string]any{"status": "ok", "smtp": m.SMTPAddr() != "", "domains": len(m.Domains())})
}

// requireRole lets a request through with a bearer token of one of roles.
func (m *Main) requireRole(h http.HandlerFunc, roles ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(secret)))
		role := ""
		for _, t := range m.tokens {
			if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 && ok {
				role = t.role
			}
		}
		if role == "" {
			m.log.Warn("api request refused: no valid token", "path", r.URL.Path, "peer", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Bearer realm="leaktrace"`)
			http.Error(w, "a valid bearer token is required", http.StatusUnauthorized)
			return
		}
		for _, allowed := range roles {
			if role == allowed {
				h(w, r)
				return
			}
		}
		http.Error(w, "this token's role may not do that", http.StatusForbidden)
	}
}

// attributeJSON answers what `leaktrace attribute --json` prints.
func (m *Main) attributeJSON(w http.ResponseWriter, r *http.Request) {
	e := &env{log: m.log, now: m.now}
	rep, err := e.attribute(r.Context(), m.DB, attribution.Input{Investigation: r.URL.Query().Get("investigation"), Now: m.now(),
		MinObservation: 30 * 24 * time.Hour, Alpha: 0.05, Days: 30})
	if err != nil {
		if errors.Is(err, canary.ErrNotFound) {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		m.log.Error("attribute for the api", "err", err)
		http.Error(w, "attribution failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err := writeReportJSON(w, rep); err != nil {
		m.log.Warn("send attribution", "err", err)
	}
}
