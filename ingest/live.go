package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leaktrace/leaktrace/attribution"
	"github.com/leaktrace/leaktrace/canary"
)

// Live holds what matching needs (the canary domains, the issued tokens),
// re-read from the database while the server runs: tokens are issued by
// other commands meanwhile.
type Live struct {
	source  canary.UniverseSource
	mu      sync.Mutex
	matcher atomic.Pointer[attribution.Matcher]
	domains atomic.Pointer[map[string]bool]
}

// NewLive loads the universe once.
func NewLive(ctx context.Context, source canary.UniverseSource) (*Live, error) {
	l := &Live{source: source}
	if err := l.Reload(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// Reload re-reads the canary domains and the issued tokens.
func (l *Live) Reload(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	u, err := l.source.Universe(ctx)
	if err != nil {
		return fmt.Errorf("load canary domains and tokens: %w", err)
	}
	doms := map[string]bool{}
	for _, d := range u.Domains {
		// A plus-style base is a mailbox at someone else's provider: its
		// mail arrives there, not here.
		if !d.Plus {
			doms[canary.DomainKey(d.Name)] = true
		}
	}
	l.matcher.Store(attribution.NewMatcher(u))
	l.domains.Store(&doms)
	return nil
}

// Run reloads every interval until ctx ends.
func (l *Live) Run(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := l.Reload(ctx); err != nil && ctx.Err() == nil {
				log.Warn("reload canary domains and tokens", "err", err)
			}
		}
	}
}

// Matcher is the current matcher.
func (l *Live) Matcher() *attribution.Matcher { return l.matcher.Load() }

// Serves reports whether domain is a canary domain received here.
func (l *Live) Serves(domain string) bool {
	return (*l.domains.Load())[canary.DomainKey(domain)]
}

// Domains returns the canary domains served, sorted.
func (l *Live) Domains() []string {
	var out []string
	for d := range *l.domains.Load() {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}
