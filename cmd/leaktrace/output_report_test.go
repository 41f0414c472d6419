package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/attribution"
)

// The streamed report is, byte for byte, what encoding it whole gives.
func TestWriteReportJSONIsWriteJSON(t *testing.T) {
	at := time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)
	bg := 0.01
	full := &attribution.Report{Investigation: "q4", GeneratedAt: at, Meaning: "m <&>", Statistics: "s", Background: &bg, Alpha: 0.05,
		Parties: []attribution.PartyResult{{Name: `Shop "A"`, Kind: "platform"}},
		Contacts: []attribution.ContactResult{
			{ID: "1", Channel: "email", ReceivedAt: at, Subject: "\n  \"contacts\": null,\n <b>", Status: "attributed",
				Orders: []string{"o-1"}, Candidates: []string{"ShopA"}, Matched: []attribution.MatchOut{{Kind: "email", Value: "a@b.vn", How: "recipient"}}},
			{ID: "2", Channel: "sms", ReceivedAt: at, From: "Trần Linh", Status: "unmatched"},
		},
		Rates: []attribution.Rate{}}
	for name, rep := range map[string]*attribution.Report{
		"contacts":    full,
		"no contacts": {GeneratedAt: at, Contacts: []attribution.ContactResult{}},
		"nil":         {GeneratedAt: at},
	} {
		var whole, streamed bytes.Buffer
		if err := writeJSON(&whole, rep); err != nil {
			t.Fatal(err)
		}
		if err := writeReportJSON(&streamed, rep); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if whole.String() != streamed.String() {
			t.Errorf("%s: streamed\n%s\nwant\n%s", name, streamed.String(), whole.String())
		}
	}
}
