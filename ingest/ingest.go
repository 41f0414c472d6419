// Package ingest brings contacts in: it reads what arrived (mail, texts,
// call records, letters), keeps the raw bytes as evidence, and records the
// contact with the tokens it matched. Every source goes through Ingester.
package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/leaktrace/leaktrace/attribution"
	"github.com/leaktrace/leaktrace/canary"
)

// Ingester records contacts through one path whatever brought them.
type Ingester struct {
	Store   canary.ContactRecorder
	Matcher *attribution.Matcher
	Limits  Limits
	Log     *slog.Logger
	Now     func() time.Time
}

// Envelope is what the SMTP conversation said, when mail came over SMTP.
type Envelope struct {
	MailFrom string   `json:"mail_from"`
	RcptTo   []string `json:"rcpt_to"`
	Helo     string   `json:"helo,omitempty"`
	Peer     string   `json:"peer,omitempty"`
	TLS      bool     `json:"tls"`
}

// Recorded is the outcome of recording one contact.
type Recorded struct {
	Contact   *canary.Contact
	Duplicate bool // the same raw bytes were already held, as Contact.ID
}

// Email records one raw message. The bytes are stored exactly as given,
// even when they are not a readable message: evidence is never dropped.
func (in *Ingester) Email(ctx context.Context, raw []byte, source string, env *Envelope) (*Recorded, error) {
	c := &canary.Contact{Channel: canary.ChannelEmail, Source: source}
	var obs attribution.Observation
	msg, err := ParseMessage(raw, in.Limits)
	if err != nil {
		c.Problems = append(c.Problems, "not readable as a message: "+err.Error())
		msg = &Message{}
	}
	c.Problems = append(c.Problems, msg.Problems...)
	c.From, c.Subject = msg.From, msg.Subject
	c.ReceivedAt, c.ReceivedText = in.receivedAt(msg)
	if c.ReceivedText == "" {
		c.Problems = append(c.Problems, "no Received header: receipt time is the time of ingest")
	}
	add := func(how string, addrs ...string) {
		for _, a := range addrs {
			obs.Recipients = append(obs.Recipients, attribution.Addressed{Value: a, How: how})
		}
	}
	if env != nil {
		add(canary.HowRecipient, env.RcptTo...)
		c.To = append(c.To, env.RcptTo...)
	}
	add(canary.HowRecipient, msg.To...)
	add(canary.HowRecipient, msg.DeliveredTo...)
	add(canary.HowRecipient, msg.XOriginalTo...)
	add(canary.HowRecipient, msg.ReceivedFor...)
	add(canary.HowHeader, msg.Cc...)
	add(canary.HowHeader, msg.Bcc...)
	add(canary.HowHeader, msg.ReplyTo...)
	// A set, not a scan of the list: a header can name thousands.
	listed := make(map[string]bool, len(c.To))
	for _, a := range c.To {
		listed[canary.AddressKey(a)] = true
	}
	for _, a := range append(append(append(msg.To, msg.DeliveredTo...), msg.XOriginalTo...), msg.Cc...) {
		if k := canary.AddressKey(a); !listed[k] {
			listed[k] = true
			c.To = append(c.To, a)
		}
	}
	obs.Texts = append(obs.Texts, attribution.Text{Text: msg.Subject, How: canary.HowHeader}, attribution.Text{Text: msg.From, How: canary.HowHeader})
	for _, t := range msg.Texts {
		obs.Texts = append(obs.Texts, attribution.Text{Text: t, How: canary.HowBody})
	}
	// What the receiving side saw, kept beside the raw bytes. Authentication-
	// Results are recorded as written; they decide nothing until a trusted
	// authserv-id is configured.
	receipt, _ := json.Marshal(struct {
		Envelope              *Envelope `json:"envelope,omitempty"`
		Received              []string  `json:"received"`
		AuthenticationResults []string  `json:"authentication_results_untrusted,omitempty"`
		DKIMSignatures        int       `json:"dkim_signatures"`
		MessageID             string    `json:"message_id,omitempty"`
		Date                  string    `json:"date_as_written,omitempty"`
	}{env, msg.Received, msg.AuthenticationResults, msg.DKIMSignatures, msg.MessageID, msg.DateText})
	c.Auth = string(receipt)
	obs.ReceivedAt = c.ReceivedAt
	return in.record(ctx, c, raw, obs)
}

// receivedAt takes the time the top Received header was written: the last
// hop, the user's own mail host, stamps it, while the Date header is the
// sender's word. Without one, the time of ingest is used, which can only
// keep more parties in a candidate set, never fewer.
func (in *Ingester) receivedAt(msg *Message) (time.Time, string) {
	if len(msg.Received) > 0 {
		top := msg.Received[0]
		if i := strings.LastIndexByte(top, ';'); i >= 0 {
			text := strings.TrimSpace(top[i+1:])
			if t, err := mail.ParseDate(text); err == nil {
				return t.UTC(), text
			}
		}
	}
	return in.now(), ""
}

func (in *Ingester) now() time.Time {
	if in.Now != nil {
		return in.Now().UTC()
	}
	return time.Now().UTC()
}

// TextContact is a text, call, letter or chat message as a person or an
// export file gives it.
type TextContact struct {
	Channel canary.Channel `json:"channel"`
	To      string         `json:"to"`
	From    string         `json:"from,omitempty"`
	Text    string         `json:"text"`
	At      time.Time      `json:"at"`
	AtText  string         `json:"at_as_written,omitempty"`
	Source  string         `json:"source"`
	// Extra carries source-specific fields (duration of a call, a file's line).
	Extra map[string]string `json:"extra,omitempty"`
}

// Text records a non-mail contact. Its raw evidence is the record itself,
// as JSON, so what a person typed is kept byte for byte.
func (in *Ingester) Text(ctx context.Context, tc TextContact) (*Recorded, error) {
	if !canary.ValidChannel(tc.Channel) || tc.Channel == canary.ChannelEmail {
		return nil, canary.Invalidf("channel %q: use postal, call, sms, chat or other (mail goes through ingest eml)", tc.Channel)
	}
	if strings.TrimSpace(tc.To) == "" && strings.TrimSpace(tc.Text) == "" {
		return nil, canary.Invalidf("a contact needs --to or --text")
	}
	if tc.At.IsZero() {
		tc.At = in.now()
	}
	if tc.At.After(in.now().Add(10 * time.Minute)) {
		return nil, canary.Invalidf("contact time %s is in the future: check the time zone or the offset", tc.At.Format(time.RFC3339))
	}
	raw, err := json.Marshal(tc)
	if err != nil {
		return nil, fmt.Errorf("encode contact record: %w", err)
	}
	c := &canary.Contact{Channel: tc.Channel, Source: tc.Source, From: tc.From, ReceivedAt: tc.At.UTC(), ReceivedText: tc.AtText}
	if tc.To != "" {
		c.To = []string{tc.To}
	}
	obs := attribution.Observation{ReceivedAt: c.ReceivedAt}
	if tc.To != "" {
		how := canary.HowRecipient
		obs.Recipients = append(obs.Recipients, attribution.Addressed{Value: tc.To, How: how})
	}
	if tc.Text != "" {
		obs.Texts = append(obs.Texts, attribution.Text{Text: tc.Text, How: canary.HowBody})
	}
	return in.record(ctx, c, raw, obs)
}

func (in *Ingester) record(ctx context.Context, c *canary.Contact, raw []byte, obs attribution.Observation) (*Recorded, error) {
	res := in.Matcher.Match(obs)
	c.Matches, c.Unissued = res.Matches, res.Unissued
	for _, u := range res.Unissued {
		if in.Matcher.CheckIssued(u) {
			c.Problems = append(c.Problems, u+" carries a valid check for an investigation but is not in the database: was it issued from another copy?")
		}
	}
	id, dup, err := in.Store.RecordContact(ctx, c, raw)
	if err != nil {
		return nil, fmt.Errorf("record contact from %s: %w", c.Source, err)
	}
	if in.Log != nil {
		in.Log.Info("contact recorded", "contact", id, "channel", c.Channel, "matches", len(c.Matches), "duplicate", dup)
	}
	return &Recorded{Contact: c, Duplicate: dup}, nil
}
