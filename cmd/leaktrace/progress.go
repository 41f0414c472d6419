package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/leaktrace/leaktrace/ingest"
)

// statusLine is a line of progress redrawn in place when stderr is a
// terminal; elsewhere the callers print whole lines now and then.
type statusLine struct {
	w          io.Writer
	tty, drawn bool
}

func (e *env) statusLine() *statusLine {
	s := &statusLine{w: e.stderr}
	if f, ok := e.stderr.(*os.File); ok {
		s.tty = isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
	}
	return s
}

// draw redraws the line: what, a bar of pct percent, then rest. The
// escape clears what a longer line left.
func (s *statusLine) draw(what string, pct int, rest string) {
	const width = 30
	bar := strings.Repeat("=", pct*width/100) + strings.Repeat(" ", width-pct*width/100)
	fmt.Fprintf(s.w, "\r%s [%s] %s\x1b[K", what, bar, rest)
	s.drawn = true
}

// end ends a drawn line, so later output starts on its own.
func (s *statusLine) end() {
	if s.drawn {
		fmt.Fprintln(s.w)
		s.drawn = false
	}
}

// progress returns a progress reporter, and a func that ends its output:
// a bar redrawn in place when stderr is a terminal, else a line every 10%
// or 30 seconds.
func (e *env) progress(what string) (func(ingest.Progress), func()) {
	line := e.statusLine()
	var last time.Time
	lastPct := -1
	return func(p ingest.Progress) {
		if p.Total < 20 && p.Done < 20 {
			return
		}
		pct := 0
		if p.Total > 0 {
			pct = p.Done * 100 / p.Total
		}
		if line.tty {
			line.draw(what+" "+p.Source, pct, fmt.Sprintf("%d/%d (%d new, %d held)", p.Done, p.Total, p.Recorded, p.Duplicates))
			return
		}
		now := e.now()
		if pct/10 != lastPct/10 || now.Sub(last) >= 30*time.Second || p.Done == p.Total {
			fmt.Fprintf(e.stderr, "%s: %s %d of %d messages (%d new, %d already held)\n", what, p.Source, p.Done, p.Total, p.Recorded, p.Duplicates)
			last, lastPct = now, pct
		}
	}, line.end
}

// stageProgress is progress for work in stages of counted items (verify's
// links, objects and rows): a bar redrawn in place when stderr is a
// terminal, else, once the work has taken 5 seconds, a line every 10.
// Small stores say nothing.
func (e *env) stageProgress(what string) (func(stage string, done, total int64), func()) {
	line := e.statusLine()
	start := e.now()
	last := start.Add(-5 * time.Second)
	return func(stage string, done, total int64) {
		if total < 10000 {
			return
		}
		pct := done * 100 / total
		if line.tty {
			line.draw(fmt.Sprintf("%s %-7s", what, stage), int(pct), fmt.Sprintf("%d/%d", done, total))
			return
		}
		if now := e.now(); now.Sub(start) >= 5*time.Second && now.Sub(last) >= 10*time.Second {
			fmt.Fprintf(e.stderr, "%s: %s %d of %d (%d%%)\n", what, stage, done, total, pct)
			last = now
		}
	}, line.end
}
