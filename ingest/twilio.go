package ingest

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/leaktrace/leaktrace/canary"
)

// KeyedRecorder records a contact at most once per idempotency key, the
// key and the contact in one transaction (sqlite.Batcher).
type KeyedRecorder interface {
	RecordContactKeyed(ctx context.Context, key string, c *canary.Contact, raw []byte) (int64, bool, error)
}

// TwilioConfig configures the Twilio webhooks.
type TwilioConfig struct {
	AuthToken string // the account's auth token: the HMAC key of X-Twilio-Signature
	// PublicURL is the scheme and host (and any path prefix) Twilio calls,
	// e.g. "https://canary.example.org": signatures cover the URL Twilio
	// used, which a proxy in front of serve does not pass on.
	PublicURL string
	MaxBody   int64 // default 64 KiB; Twilio's requests are a few KiB
	// Recordings says whether and from where call recordings are fetched.
	Recordings RecordingFetch
}

// Twilio receives inbound SMS, calls and call transcriptions in Twilio's
// webhook format and records each through Ingester.Text.
//
// A finished recording is fetched only from the configured provider host
// (see RecordingFetch) and only when an account SID is configured.
type Twilio struct {
	cfg      TwilioConfig
	ingester Ingester
	store    KeyedRecorder
	live     *Live
	log      *slog.Logger
}

// NewTwilio builds the webhook handlers.
func NewTwilio(cfg TwilioConfig, in Ingester, store KeyedRecorder, live *Live, log *slog.Logger) (*Twilio, error) {
	if cfg.AuthToken == "" {
		return nil, canary.Invalidf("twilio webhooks need the account's auth token (--twilio-auth-token-file or LEAKTRACE_TWILIO_AUTH_TOKEN)")
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, canary.Invalidf("--public-url %q: give the scheme and host Twilio calls, such as https://canary.example.org", cfg.PublicURL)
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 10
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Twilio{cfg: cfg, ingester: in, store: store, live: live, log: log}, nil
}

// Paths of the webhooks.
const (
	TwilioSMSPath           = "/webhooks/twilio/sms"
	TwilioVoicePath         = "/webhooks/twilio/voice"
	TwilioTranscriptionPath = "/webhooks/twilio/transcription"
)

// Register adds the webhook routes to mux.
func (t *Twilio) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+TwilioSMSPath, t.sms)
	mux.HandleFunc("POST "+TwilioVoicePath, t.voice)
	mux.HandleFunc("POST "+TwilioTranscriptionPath, t.transcription)
}

// TwilioSignature computes X-Twilio-Signature: base64 of HMAC-SHA1, keyed
// with the auth token, over the full URL followed by each POST parameter's
// name and value, sorted by name (and, for a repeated name, by value),
// repeated names kept.
func TwilioSignature(authToken, fullURL string, params url.Values) string {
	mac := hmac.New(sha1.New, []byte(authToken))
	io.WriteString(mac, fullURL)
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			io.WriteString(mac, k)
			io.WriteString(mac, v)
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ValidTwilioSignature checks sig in constant time against fullURL, also
// with the default port added or removed, as Twilio's own libraries do.
func ValidTwilioSignature(authToken, fullURL string, params url.Values, sig string) bool {
	if sig == "" {
		return false
	}
	ok := 0
	for _, u := range urlVariants(fullURL) {
		want := TwilioSignature(authToken, u, params)
		ok |= subtle.ConstantTimeCompare([]byte(want), []byte(sig))
	}
	return ok == 1
}

func urlVariants(full string) []string {
	u, err := url.Parse(full)
	if err != nil {
		return []string{full}
	}
	out := []string{full}
	v := *u
	switch {
	case u.Port() != "":
		if (u.Scheme == "https" && u.Port() == "443") || (u.Scheme == "http" && u.Port() == "80") {
			v.Host = u.Hostname()
			out = append(out, v.String())
		}
	case u.Scheme == "https":
		v.Host = u.Host + ":443"
		out = append(out, v.String())
	case u.Scheme == "http":
		v.Host = u.Host + ":80"
		out = append(out, v.String())
	}
	return out
}

// request is a verified webhook delivery.
type request struct {
	params url.Values
	raw    map[string]string // method, URL, headers, body as received
}

// verify reads, bounds and authenticates a delivery. On failure it has
// written the response and returns nil.
func (t *Twilio) verify(w http.ResponseWriter, r *http.Request) *request {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		http.Error(w, "form-encoded body expected", http.StatusUnsupportedMediaType)
		return nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, t.cfg.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			t.log.Warn("webhook refused: body too large", "path", r.URL.Path, "limit", t.cfg.MaxBody)
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return nil
		}
		http.Error(w, "body not read", http.StatusBadRequest)
		return nil
	}
	params, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "body is not form-encoded", http.StatusBadRequest)
		return nil
	}
	full := t.cfg.PublicURL + r.URL.RequestURI()
	if !ValidTwilioSignature(t.cfg.AuthToken, full, params, r.Header.Get("X-Twilio-Signature")) {
		t.log.Warn("webhook refused: missing or bad signature", "path", r.URL.Path, "peer", r.RemoteAddr,
			"signed", r.Header.Get("X-Twilio-Signature") != "")
		http.Error(w, "forbidden", http.StatusForbidden)
		return nil
	}
	var hb strings.Builder
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range r.Header[k] {
			fmt.Fprintf(&hb, "%s: %s\r\n", k, v)
		}
	}
	raw := map[string]string{"request_method": r.Method, "request_url": full, "request_headers": hb.String(),
		"request_peer": r.RemoteAddr}
	if utf8.Valid(body) {
		raw["request_body"] = string(body)
	} else {
		raw["request_body_base64"] = base64.StdEncoding.EncodeToString(body)
	}
	return &request{params: params, raw: raw}
}

func (t *Twilio) record(ctx context.Context, key string, tc TextContact) (*Recorded, error) {
	in := t.ingester
	in.Matcher = t.live.Matcher()
	in.Store = keyed{next: t.store, key: key}
	return in.Text(ctx, tc)
}

type keyed struct {
	next KeyedRecorder
	key  string
}

func (k keyed) RecordContact(ctx context.Context, c *canary.Contact, raw []byte) (int64, bool, error) {
	return k.next.RecordContactKeyed(ctx, k.key, c, raw)
}

func (t *Twilio) contact(req *request, ch canary.Channel, source, text string, ids ...string) TextContact {
	extra := map[string]string{}
	for k, v := range req.raw {
		extra[k] = v
	}
	for _, id := range ids {
		if v := req.params.Get(id); v != "" {
			extra[id] = v
		}
	}
	return TextContact{Channel: ch, To: req.params.Get("To"), From: req.params.Get("From"), Text: text, Source: source, Extra: extra}
}

func (t *Twilio) save(w http.ResponseWriter, r *http.Request, key string, tc TextContact) bool {
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	rec, err := t.record(ctx, key, tc)
	if err != nil {
		if errors.Is(err, canary.ErrInvalid) {
			t.log.Warn("webhook not recorded", "source", tc.Source, "err", err)
			http.Error(w, "not a contact: "+err.Error(), http.StatusBadRequest)
			return false
		}
		t.log.Error("webhook not recorded", "source", tc.Source, "err", err)
		http.Error(w, "not recorded, try again", http.StatusInternalServerError)
		return false
	}
	t.log.Info("webhook recorded", "contact", rec.Contact.ID, "source", tc.Source, "duplicate", rec.Duplicate)
	return true
}

func sid(w http.ResponseWriter, p url.Values, names ...string) string {
	for _, n := range names {
		if v := p.Get(n); v != "" {
			return v
		}
	}
	http.Error(w, "missing "+names[0], http.StatusBadRequest)
	return ""
}

func (t *Twilio) sms(w http.ResponseWriter, r *http.Request) {
	req := t.verify(w, r)
	if req == nil {
		return
	}
	id := sid(w, req.params, "MessageSid", "SmsSid")
	if id == "" {
		return
	}
	tc := t.contact(req, canary.ChannelSMS, "twilio:sms", req.params.Get("Body"), "MessageSid", "AccountSid", "NumMedia")
	if !t.save(w, r, "twilio:sms:"+id, tc) {
		return
	}
	writeTwiML(w, twiml{})
}

func (t *Twilio) voice(w http.ResponseWriter, r *http.Request) {
	req := t.verify(w, r)
	if req == nil {
		return
	}
	id := sid(w, req.params, "CallSid")
	if id == "" {
		return
	}
	if req.params.Get("RecordingSid") != "" || req.params.Get("RecordingUrl") != "" {
		// <Record>'s action: the recording is finished.
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Minute)
		t.saveRecording(ctx, req)
		cancel()
		writeTwiML(w, twiml{Hangup: &struct{}{}})
		return
	}
	tc := t.contact(req, canary.ChannelCall, "twilio:call", "", "CallSid", "AccountSid", "CallStatus", "Direction", "CallerName")
	if !t.save(w, r, "twilio:call:"+id, tc) {
		return
	}
	writeTwiML(w, twiml{Record: &record{
		Action:             t.cfg.PublicURL + TwilioVoicePath,
		Method:             "POST",
		MaxLength:          600,
		Timeout:            10,
		PlayBeep:           false,
		Transcribe:         true,
		TranscribeCallback: t.cfg.PublicURL + TwilioTranscriptionPath,
	}})
}

func (t *Twilio) transcription(w http.ResponseWriter, r *http.Request) {
	req := t.verify(w, r)
	if req == nil {
		return
	}
	id := sid(w, req.params, "TranscriptionSid", "RecordingSid")
	if id == "" {
		return
	}
	tc := t.contact(req, canary.ChannelCall, "twilio:transcription", req.params.Get("TranscriptionText"),
		"CallSid", "TranscriptionSid", "TranscriptionStatus", "RecordingSid", "RecordingUrl", "AccountSid")
	if t.cfg.Recordings.AccountSID == "" {
		tc.Extra["recording_note"] = "recording not fetched (no --twilio-account-sid): keep it from the provider's console or API"
	}
	if !t.save(w, r, "twilio:transcription:"+id, tc) {
		return
	}
	writeTwiML(w, twiml{})
}

type twiml struct {
	XMLName xml.Name  `xml:"Response"`
	Record  *record   `xml:"Record,omitempty"`
	Hangup  *struct{} `xml:"Hangup,omitempty"`
}

type record struct {
	Action             string `xml:"action,attr"`
	Method             string `xml:"method,attr"`
	MaxLength          int    `xml:"maxLength,attr"`
	Timeout            int    `xml:"timeout,attr"`
	PlayBeep           bool   `xml:"playBeep,attr"`
	Transcribe         bool   `xml:"transcribe,attr"`
	TranscribeCallback string `xml:"transcribeCallback,attr"`
}

func writeTwiML(w http.ResponseWriter, t twiml) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	io.WriteString(w, xml.Header)
	xml.NewEncoder(w).Encode(t)
}
