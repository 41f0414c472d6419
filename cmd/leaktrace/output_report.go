package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/leaktrace/leaktrace/attribution"
)

// writeReportJSON writes rep as writeJSON would, byte for byte, but its
// contacts one at a time: the list of a large store is the bulk of the
// report (1.5 KB a contact), and encoding it whole held it three times.
func writeReportJSON(w io.Writer, rep *attribution.Report) error {
	head := *rep
	head.Contacts = nil
	var b bytes.Buffer
	if err := writeJSON(&b, head); err != nil {
		return err
	}
	// Quotes inside strings are escaped, so only the report's own key can
	// read so at this indent.
	const hole = "\n  \"contacts\": null,\n"
	before, after, ok := bytes.Cut(b.Bytes(), []byte(hole))
	if !ok {
		return fmt.Errorf("encode report: no contacts field in %.40q", b.String())
	}
	bw := bufio.NewWriter(w)
	bw.Write(before)
	switch {
	case rep.Contacts == nil:
		bw.WriteString(hole)
	case len(rep.Contacts) == 0:
		bw.WriteString("\n  \"contacts\": [],\n")
	default:
		bw.WriteString("\n  \"contacts\": [")
		// Encode ends each value with a newline that the separator or the
		// closing bracket would not have: each goes through one first.
		var one bytes.Buffer
		enc := json.NewEncoder(&one)
		enc.SetIndent("    ", "  ")
		enc.SetEscapeHTML(false)
		for i := range rep.Contacts {
			if i > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString("\n    ")
			one.Reset()
			if err := enc.Encode(rep.Contacts[i]); err != nil {
				return fmt.Errorf("encode contact %s: %w", rep.Contacts[i].ID, err)
			}
			bw.Write(bytes.TrimSuffix(one.Bytes(), []byte("\n")))
		}
		bw.WriteString("\n  ],\n")
	}
	bw.Write(after)
	return bw.Flush()
}
