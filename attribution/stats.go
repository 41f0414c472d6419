package attribution

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/leaktrace/leaktrace/canary"
)

// partyStats is one party's fitted leak probability and test.
type partyStats struct {
	fitted    bool
	intervals bool
	q, lo     float64
	hi, p     float64
	rejected  bool // q = 0 rejected after Holm
}

// fitted holds the fit of a whole report.
type fitted struct {
	mle     params
	parties map[string]partyStats
}

func (f *fitted) of(name string) partyStats {
	if f == nil {
		return partyStats{}
	}
	return f.parties[name]
}

// fitParties fits the model and tests every party of the report. Public
// parties are sources in the model but are not tested: they get no verdict.
func fitParties(in Input, contacts []ContactResult, byOrder map[string]*orderExposure) *fitted {
	records := buildRecords(in, contacts, byOrder)
	var names []string
	for _, r := range records {
		for _, p := range r.sources {
			if !slices.Contains(names, p) {
				names = append(names, p)
			}
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return nil
	}
	m := newModel(names, records)
	mle := m.fit(m.start())
	ll := m.logLik(mle)
	kinds := map[string]canary.PartyKind{}
	for _, p := range in.Parties {
		kinds[p.Name] = p.Kind
	}
	var tested []int
	var ps []float64
	out := &fitted{mle: mle, parties: map[string]partyStats{}}
	for i, name := range names {
		if kinds[name] != canary.KindPublic && m.exposed[i] > 0 {
			tested = append(tested, i)
		}
	}
	// Each party's test and interval are fits of their own: run them on
	// every core.
	results := make([]partyStats, len(tested))
	parallel(len(tested), func(k int) {
		i := tested[k]
		st := partyStats{fitted: true, q: mle.q[i], p: m.lrtPValue(mle, ll, i)}
		if !in.SkipIntervals {
			st.lo, st.hi = m.profile(mle, ll, i)
			st.intervals = true
		}
		results[k] = st
	})
	for k, i := range tested {
		out.parties[names[i]] = results[k]
		ps = append(ps, results[k].p)
	}
	for k, rej := range holm(ps, alphaOf(in)) {
		st := out.parties[names[tested[k]]]
		st.rejected = rej
		out.parties[names[tested[k]]] = st
	}
	return out
}

func alphaOf(in Input) float64 {
	if in.Alpha <= 0 {
		return 0.05
	}
	return in.Alpha
}

// parallel runs fn(0..n-1) on every core. fn must only write its own index.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}
