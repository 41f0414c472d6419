package ingest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/leaktrace/leaktrace/attribution"
	"github.com/leaktrace/leaktrace/canary"
)

// RecordingFetch says where call recordings may be fetched from. A call in
// Vietnamese or Chinese gets no transcription from the provider, so its
// recording is the evidence: it is fetched once, with the account's
// credentials, and stored byte for byte as a contact of its own.
type RecordingFetch struct {
	AccountSID string // empty: recordings are not fetched, their URL is kept
	// Host is the only host recordings are fetched from (default
	// api.twilio.com). A webhook naming any other host is not followed:
	// the request is signed, but a recording URL is still an address
	// leaktrace would otherwise fetch on someone's word.
	Host     string
	Client   *http.Client
	MaxBytes int64 // default 64 MiB, about an hour of 8 kHz WAV
}

func (f RecordingFetch) withDefaults() RecordingFetch {
	if f.Host == "" {
		f.Host = "api.twilio.com"
	}
	if f.Client == nil {
		f.Client = &http.Client{Timeout: 2 * time.Minute}
	}
	if f.MaxBytes <= 0 {
		f.MaxBytes = 64 << 20
	}
	return f
}

// recordingURL checks that raw points at the configured provider's
// recording of this account, and returns it.
func (f RecordingFetch) recordingURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("recording url: %w", err)
	}
	if !strings.EqualFold(u.Host, f.Host) {
		return nil, fmt.Errorf("recording url host %q is not the provider's %q", u.Host, f.Host)
	}
	host, _, err := net.SplitHostPort(u.Host)
	if err != nil {
		host = u.Host
	}
	ip := net.ParseIP(host)
	if u.Scheme != "https" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("recording url %q is not https", raw)
	}
	if !strings.HasPrefix(u.Path, "/2010-04-01/Accounts/"+f.AccountSID+"/Recordings/") {
		return nil, fmt.Errorf("recording url path %q is not a recording of account %s", u.Path, f.AccountSID)
	}
	u.User, u.Fragment = nil, ""
	return u, nil
}

// fetchRecording downloads a recording within the size limit.
func (t *Twilio) fetchRecording(ctx context.Context, raw string) ([]byte, string, error) {
	f := t.cfg.Recordings.withDefaults()
	u, err := f.recordingURL(raw)
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", fmt.Errorf("recording request: %w", err)
	}
	req.SetBasicAuth(f.AccountSID, t.cfg.AuthToken)
	resp, err := f.Client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("fetch recording: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("fetch recording: %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.MaxBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("read recording: %w", err)
	}
	if int64(len(body)) > f.MaxBytes {
		return nil, "", fmt.Errorf("recording over %d bytes refused", f.MaxBytes)
	}
	return body, u.String(), nil
}

// saveRecording fetches the finished recording of a call and records it,
// keyed by its RecordingSid, as a call contact to the number called.
func (t *Twilio) saveRecording(ctx context.Context, req *request) {
	rid, rawURL := req.params.Get("RecordingSid"), req.params.Get("RecordingUrl")
	if t.cfg.Recordings.AccountSID == "" || rid == "" || rawURL == "" {
		return
	}
	audio, from, err := t.fetchRecording(ctx, rawURL)
	if err != nil {
		t.log.Warn("recording not fetched", "recording", rid, "err", err)
		return
	}
	c := &canary.Contact{Channel: canary.ChannelCall, Source: "twilio:recording " + from, From: req.params.Get("From"),
		ReceivedAt: t.ingester.now()}
	obs := attribution.Observation{ReceivedAt: c.ReceivedAt}
	if to := req.params.Get("To"); to != "" {
		c.To = []string{to}
		obs.Recipients = []attribution.Addressed{{Value: to, How: canary.HowRecipient}}
	}
	c.Problems = []string{"call recording " + rid + " of call " + req.params.Get("CallSid") + ": audio, not transcribed; add a transcript with `contact add`"}
	in := t.ingester
	in.Matcher = t.live.Matcher()
	in.Store = keyed{next: t.store, key: "twilio:recording:" + rid}
	if _, err := in.record(ctx, c, audio, obs); err != nil {
		t.log.Error("recording not recorded", "recording", rid, "err", err)
	}
}
