package ingest_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/ingest"
	"github.com/leaktrace/leaktrace/sqlite"
)

const twilioToken = "0123456789abcdef0123456789abcdef"

type twilioServer struct {
	db     *sqlite.DB
	url    string
	public string
}

func startTwilio(tb testing.TB) *twilioServer {
	tb.Helper()
	return startTwilioWith(tb, ingest.RecordingFetch{})
}

func startTwilioWith(tb testing.TB, rec ingest.RecordingFetch) *twilioServer {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "t.db"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	live, err := ingest.NewLive(ctx, db)
	if err != nil {
		tb.Fatal(err)
	}
	b := db.NewBatcher(nil, sqlite.BatchOptions{})
	const public = "https://canary.example.org"
	tw, err := ingest.NewTwilio(ingest.TwilioConfig{AuthToken: twilioToken, PublicURL: public, MaxBody: 8 << 10, Recordings: rec},
		ingest.Ingester{Limits: ingest.DefaultLimits()}, b, live, nil)
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	tw.Register(mux)
	srv := httptest.NewServer(mux)
	tb.Cleanup(func() {
		srv.Close()
		b.Close()
		db.Close()
	})
	return &twilioServer{db: db, url: srv.URL, public: public}
}

// post sends a form as Twilio would, signed with sign (or unsigned when "").
func (s *twilioServer) post(tb testing.TB, path string, form url.Values, sign string) (int, string) {
	tb.Helper()
	req, err := http.NewRequest("POST", s.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sign != "" {
		req.Header.Set("X-Twilio-Signature", sign)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func (s *twilioServer) signed(tb testing.TB, path string, form url.Values) (int, string) {
	return s.post(tb, path, form, ingest.TwilioSignature(twilioToken, s.public+path, form))
}

// reference computes the signature the way Twilio documents it, by hand.
func reference(token, u string, pairs [][2]string) string {
	s := u
	for _, p := range pairs {
		s += p[0] + p[1]
	}
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestTwilioSignature(t *testing.T) {
	u := "https://canary.example.org/webhooks/twilio/sms?x=1"
	form := url.Values{"To": {"+84912000100"}, "Body": {"b"}, "From": {"+84900000000"}, "MediaUrl": {"z", "a"}}
	want := reference("tok", u, [][2]string{{"Body", "b"}, {"From", "+84900000000"}, {"MediaUrl", "a"}, {"MediaUrl", "z"}, {"To", "+84912000100"}})
	if got := ingest.TwilioSignature("tok", u, form); got != want {
		t.Fatalf("TwilioSignature=%q, want %q", got, want)
	}
	for _, tc := range []struct {
		name string
		url  string
		sig  string
		want bool
	}{
		{"exact", u, want, true},
		{"default port added by the caller", "https://canary.example.org:443/webhooks/twilio/sms?x=1", want, true},
		{"other path", "https://canary.example.org/webhooks/twilio/voice?x=1", want, false},
		{"empty", u, "", false},
		{"truncated", u, want[:10], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ingest.ValidTwilioSignature("tok", tc.url, form, tc.sig); got != tc.want {
				t.Fatalf("ValidTwilioSignature=%v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzTwilioSignature(f *testing.F) {
	f.Add("https://canary.example.org/webhooks/twilio/sms", "To=%2B84912000100&From=%2B849&Body=hello")
	f.Add("https://a.example/p?q=1&q=2", "a=1&a=2&a=1&b=&=x")
	f.Add("http://a.example:80/", "Body=%E4%BD%A0%E5%A5%BD&Body=%FF")
	f.Fuzz(func(t *testing.T, u, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		sig := ingest.TwilioSignature("tok", u, form)
		if sig != ingest.TwilioSignature("tok", u, form) {
			t.Fatal("signature not deterministic")
		}
		if !ingest.ValidTwilioSignature("tok", u, form, sig) {
			t.Fatal("own signature refused")
		}
		// The order of the parameters in the body does not matter, repeated
		// keys do.
		again, _ := url.ParseQuery(form.Encode())
		if ingest.TwilioSignature("tok", u, again) != sig {
			t.Fatal("re-encoded form signs differently")
		}
		if ingest.ValidTwilioSignature("other", u, form, sig) {
			t.Fatal("signature valid under another token")
		}
		for k, vs := range form {
			extra := url.Values{}
			for k2, v2 := range form {
				extra[k2] = append([]string(nil), v2...)
			}
			extra[k] = append(vs, "x")
			if ingest.ValidTwilioSignature("tok", u, extra, sig) {
				t.Fatalf("an extra value of %q keeps the signature valid", k)
			}
			break
		}
	})
}

func TestTwilioSMS(t *testing.T) {
	s := startTwilio(t)
	form := url.Values{"MessageSid": {"SM0001"}, "AccountSid": {"AC1"}, "From": {"+84900000000"}, "To": {"+84912000100"},
		"Body": {"Chị Linh ơi, đơn hàng của chị bị lỗi"}}
	t.Run("forged", func(t *testing.T) {
		if code, _ := s.post(t, ingest.TwilioSMSPath, form, "bm90IGEgc2lnbmF0dXJl"); code != 403 {
			t.Fatalf("status=%d, want 403", code)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		if code, _ := s.post(t, ingest.TwilioSMSPath, form, ""); code != 403 {
			t.Fatalf("status=%d, want 403", code)
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := url.Values{"MessageSid": {"SM0002"}, "To": {"+84912000100"}, "Body": {strings.Repeat("x", 10<<10)}}
		if code, _ := s.signed(t, ingest.TwilioSMSPath, big); code != 413 {
			t.Fatalf("status=%d, want 413", code)
		}
	})
	if n := len(contacts(t, s.db)); n != 0 {
		t.Fatalf("contacts=%d after refused requests, want 0", n)
	}
	for i := range 2 {
		if code, body := s.signed(t, ingest.TwilioSMSPath, form); code != 200 || !strings.Contains(body, "<Response>") {
			t.Fatalf("delivery %d: status=%d body=%q, want 200 with TwiML", i+1, code, body)
		}
	}
	cs := contacts(t, s.db)
	if len(cs) != 1 {
		t.Fatalf("contacts=%d after a delivery and its replay, want 1", len(cs))
	}
	c := cs[0]
	if c.Channel != canary.ChannelSMS || c.From != "+84900000000" || len(c.To) != 1 || c.To[0] != "+84912000100" {
		t.Fatalf("contact=%+v, want an sms from +84900000000 to +84912000100", c)
	}
	raw, err := s.db.RawObject(context.Background(), c.RawSHA256)
	if err != nil {
		t.Fatal(err)
	}
	var rec ingest.TextContact
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Extra["request_body"] != form.Encode() || !strings.Contains(rec.Extra["request_headers"], "X-Twilio-Signature:") ||
		rec.Extra["request_url"] != s.public+ingest.TwilioSMSPath || rec.Extra["request_method"] != "POST" {
		t.Fatalf("raw evidence=%v, want the request's method, URL, headers and body", rec.Extra)
	}
}

func TestTwilioVoiceAndTranscription(t *testing.T) {
	s := startTwilio(t)
	call := url.Values{"CallSid": {"CA0001"}, "AccountSid": {"AC1"}, "From": {"+84900000000"}, "To": {"+84912000100"}, "CallStatus": {"ringing"}}
	code, body := s.signed(t, ingest.TwilioVoicePath, call)
	if code != 200 {
		t.Fatalf("status=%d, want 200", code)
	}
	var resp struct {
		XMLName xml.Name `xml:"Response"`
		Record  *struct {
			Action             string `xml:"action,attr"`
			Transcribe         bool   `xml:"transcribe,attr"`
			TranscribeCallback string `xml:"transcribeCallback,attr"`
			MaxLength          int    `xml:"maxLength,attr"`
		} `xml:"Record"`
	}
	if err := xml.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("TwiML %q: %v", body, err)
	}
	if resp.Record == nil || !resp.Record.Transcribe || resp.Record.TranscribeCallback != s.public+ingest.TwilioTranscriptionPath ||
		resp.Record.MaxLength <= 0 || resp.Record.Action == "" {
		t.Fatalf("TwiML=%s, want <Record> with a transcription callback and an action", body)
	}
	// <Record>'s action: hang up, store nothing more, fetch nothing.
	done := url.Values{"CallSid": {"CA0001"}, "RecordingSid": {"RE1"}, "RecordingUrl": {"https://api.twilio.com/x/RE1"}, "To": {"+84912000100"}}
	if code, body := s.signed(t, ingest.TwilioVoicePath, done); code != 200 || !strings.Contains(body, "<Hangup>") {
		t.Fatalf("after recording: status=%d body=%q, want <Hangup>", code, body)
	}
	tr := url.Values{"CallSid": {"CA0001"}, "TranscriptionSid": {"TR1"}, "TranscriptionText": {"Hello, this is your courier, confirm your address"},
		"TranscriptionStatus": {"completed"}, "RecordingSid": {"RE1"}, "RecordingUrl": {"https://api.twilio.com/x/RE1"},
		"From": {"+84900000000"}, "To": {"+84912000100"}}
	if code, _ := s.signed(t, ingest.TwilioTranscriptionPath, tr); code != 200 {
		t.Fatalf("transcription: status=%d, want 200", code)
	}
	cs := contacts(t, s.db)
	if len(cs) != 2 || cs[0].Channel != canary.ChannelCall || cs[1].Channel != canary.ChannelCall {
		t.Fatalf("contacts=%+v, want the call and its transcription", cs)
	}
}

// A finished recording is fetched from the provider's host only, with the
// account's credentials, and kept byte for byte as a call contact.
func TestTwilioRecordingFetchedFromProviderOnly(t *testing.T) {
	audio := []byte("RIFF\x24\x00\x00\x00WAVEfmt fake audio of a Vietnamese scam call")
	var provider, other atomic.Int32
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		provider.Add(1)
		if u, p, ok := r.BasicAuth(); !ok || u != "AC1" || p != twilioToken {
			http.Error(w, "unauthorised", http.StatusUnauthorized)
			return
		}
		w.Write(audio)
	}))
	defer prov.Close()
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { other.Add(1) }))
	defer elsewhere.Close()
	s := startTwilioWith(t, ingest.RecordingFetch{AccountSID: "AC1", Host: strings.TrimPrefix(prov.URL, "http://")})
	for _, tc := range []struct {
		sid, url string
	}{
		{"RE-other-host", elsewhere.URL + "/2010-04-01/Accounts/AC1/Recordings/RE-other-host"},
		{"RE-other-account", prov.URL + "/2010-04-01/Accounts/AC2/Recordings/RE-other-account"},
		{"RE1", prov.URL + "/2010-04-01/Accounts/AC1/Recordings/RE1"},
		{"RE1", prov.URL + "/2010-04-01/Accounts/AC1/Recordings/RE1"}, // Twilio retries: one contact
	} {
		done := url.Values{"CallSid": {"CA9"}, "RecordingSid": {tc.sid}, "RecordingUrl": {tc.url}, "To": {"+84912000100"}, "From": {"+84900000000"}}
		if code, body := s.signed(t, ingest.TwilioVoicePath, done); code != 200 || !strings.Contains(body, "<Hangup>") {
			t.Fatalf("%s: status=%d body=%q, want <Hangup>", tc.sid, code, body)
		}
	}
	if other.Load() != 0 {
		t.Fatalf("a recording URL on another host was fetched %d times", other.Load())
	}
	cs := contacts(t, s.db)
	if len(cs) != 1 || cs[0].Channel != canary.ChannelCall {
		t.Fatalf("contacts=%+v, want one call recording", cs)
	}
	raw, err := s.db.RawObject(context.Background(), cs[0].RawSHA256)
	if err != nil || !bytes.Equal(raw, audio) {
		t.Fatalf("stored recording=%q err=%v, want the audio byte for byte", raw, err)
	}
}
