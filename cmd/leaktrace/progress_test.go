package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Verify's progress says nothing for a small store or a quick run, then a
// line every 10 seconds once the work has taken 5.
func TestStageProgress(t *testing.T) {
	var errb bytes.Buffer
	clock := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	e := &env{stderr: &errb, now: func() time.Time { return clock }}
	progress, end := e.stageProgress("verify")
	progress("links", 0, 500) // small: never shown
	clock = clock.Add(6 * time.Second)
	progress("links", 400, 500)
	if errb.Len() != 0 {
		t.Fatalf("a small store printed %q", errb.String())
	}
	progress("links", 4096, 50000)
	clock = clock.Add(3 * time.Second)
	progress("links", 8192, 50000) // within 10 s of the last line
	clock = clock.Add(8 * time.Second)
	progress("rows", 1000, 20000)
	end()
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	want := []string{"verify: links 4096 of 50000 (8%)", "verify: rows 1000 of 20000 (5%)"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("progress printed %q, want %q", lines, want)
	}
}
