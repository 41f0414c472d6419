package attribution

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// The cross-order model of SPEC.md: each party p leaks an order record it
// holds with probability q_p, and every record is contacted at random with
// background probability b (guessing, random dialling, recycled numbers).
// A record whose possible sources are S is contacted with probability
// 1 - (1-b) Π_{p∈S} (1-q_p): a noisy-OR.
//
// For a record that was not contacted, S is every party that had held it
// for the minimum observation time. For a contacted record S is the
// contacts' candidate set: a party that was not shown what the scammer
// quoted cannot have caused it. Records with the same S and outcome are
// one pattern with a count, so fitting costs the number of distinct
// patterns, not of orders.

// pattern is n records with sources parties and outcome contacted.
type pattern struct {
	parties   []int
	contacted bool
	n         float64
}

// model is the data of one fit.
type model struct {
	parties  []string
	patterns []pattern
	exposed  []float64 // records each party is a source of
	total    float64
}

// newModel groups records into patterns.
func newModel(parties []string, records []record) *model {
	idx := map[string]int{}
	for i, p := range parties {
		idx[p] = i
	}
	m := &model{parties: parties, exposed: make([]float64, len(parties))}
	byKey := map[string]int{}
	for _, r := range records {
		var ps []int
		for _, p := range r.sources {
			if i, ok := idx[p]; ok {
				ps = append(ps, i)
			}
		}
		slices.Sort(ps)
		ps = slices.Compact(ps)
		var b strings.Builder
		if r.contacted {
			b.WriteString("+")
		}
		for _, i := range ps {
			b.WriteString(strconv.Itoa(i))
			b.WriteByte(',')
		}
		k := b.String()
		if j, ok := byKey[k]; ok {
			m.patterns[j].n++
		} else {
			byKey[k] = len(m.patterns)
			m.patterns = append(m.patterns, pattern{parties: ps, contacted: r.contacted, n: 1})
		}
		for _, i := range ps {
			m.exposed[i]++
		}
		m.total++
	}
	return m
}

// params are q per party and b; fixed[i] holds q_i at its value.
type params struct {
	q     []float64
	b     float64
	fixed []bool
}

func (m *model) start() params {
	p := params{q: make([]float64, len(m.parties)), b: 0.01, fixed: make([]bool, len(m.parties))}
	for i := range p.q {
		p.q[i] = 0.05
	}
	return p
}

func (p params) clone() params {
	return params{q: slices.Clone(p.q), b: p.b, fixed: slices.Clone(p.fixed)}
}

// logLik is the log-likelihood of the data under p.
func (m *model) logLik(p params) float64 {
	ll := 0.0
	for _, pt := range m.patterns {
		miss := 1 - p.b
		for _, i := range pt.parties {
			miss *= 1 - p.q[i]
		}
		if pt.contacted {
			ll += pt.n * math.Log(math.Max(1-miss, 1e-300))
		} else {
			ll += pt.n * math.Log(math.Max(miss, 1e-300))
		}
	}
	return ll
}

// fit maximises the likelihood by EM: each source fires independently and a
// contacted record's fires are apportioned by their posterior. Every EM step
// raises the likelihood and keeps q in [0, 1]. Plain EM crawls along the
// ridges this model has when parties overlap (one platform on every order),
// and a fit stopped early makes a likelihood-ratio test see evidence that is
// not there, so steps are accelerated with SQUAREM (Varadhan and Roland,
// 2008) and kept only when they raise the likelihood.
func (m *model) fit(p params) params { return m.fitTo(p, true) }

// fitTo fits to full precision when strict, as the likelihood-ratio tests
// need: a test near its threshold must not flip with where EM stopped. The
// profile intervals' many fits need only the likelihood to settle.
func (m *model) fitTo(p params, strict bool) params {
	p = p.clone()
	num := make([]float64, len(p.q))
	ll := m.logLik(p)
	for iter := 0; iter < 20000; iter++ {
		p1 := m.emStep(p, num)
		p2 := m.emStep(p1, num)
		next, nextLL := p2, math.NaN()
		// Extrapolate along the two steps: θ' = θ0 - 2αr + α²v.
		var rr, vv float64
		for i := range p.q {
			r := p1.q[i] - p.q[i]
			v := p2.q[i] - p1.q[i] - r
			rr += r * r
			vv += v * v
		}
		rb, vb := p1.b-p.b, p2.b-p1.b-(p1.b-p.b)
		rr, vv = rr+rb*rb, vv+vb*vb
		if vv > 0 {
			alpha := -math.Sqrt(rr / vv)
			if alpha < -1 {
				x := p.clone()
				for i := range x.q {
					if !x.fixed[i] {
						r := p1.q[i] - p.q[i]
						v := p2.q[i] - p1.q[i] - r
						x.q[i] = clamp01(p.q[i] - 2*alpha*r + alpha*alpha*v)
					}
				}
				x.b = clamp01(p.b - 2*alpha*rb + alpha*alpha*vb)
				x = m.emStep(x, num)
				if lx := m.logLik(x); lx >= ll {
					next, nextLL = x, lx
				}
			}
		}
		nll := nextLL
		if math.IsNaN(nll) {
			nll = m.logLik(next)
		}
		done := nll-ll < 1e-12 && (!strict || maxStep(p, next) < 1e-10)
		p, ll = next, nll
		if done {
			break
		}
	}
	return p
}

// clamp01 keeps an extrapolated value strictly inside (0, 1): EM cannot move
// a parameter off exactly 0 or 1 again.
func clamp01(v float64) float64 { return math.Min(1-1e-12, math.Max(1e-12, v)) }

// emStep is one EM update; num is scratch space.
func (m *model) emStep(p params, num []float64) params {
	p = p.clone()
	clear(num)
	bnum := 0.0
	for _, pt := range m.patterns {
		if !pt.contacted {
			continue
		}
		miss := 1 - p.b
		for _, i := range pt.parties {
			miss *= 1 - p.q[i]
		}
		hit := math.Max(1-miss, 1e-300)
		for _, i := range pt.parties {
			num[i] += pt.n * p.q[i] / hit
		}
		bnum += pt.n * p.b / hit
	}
	for i := range p.q {
		if !p.fixed[i] && m.exposed[i] > 0 {
			p.q[i] = math.Min(num[i]/m.exposed[i], 1)
		}
	}
	if m.total > 0 {
		p.b = math.Min(bnum/m.total, 1)
	}
	return p
}

// chi2at95 is the 95% point of χ² with one degree of freedom.
const chi2at95 = 3.841458820694124

// profile returns the 95% profile-likelihood interval of q_i around the
// MLE. Profile rather than Wald or bootstrap intervals: q often sits at or
// near 0, where Wald intervals are symmetric nonsense, and a bootstrap of a
// few contacted orders is too coarse to be worth its cost.
func (m *model) profile(mle params, llMax float64, i int) (lo, hi float64) {
	at := func(v float64) float64 {
		p := mle.clone()
		p.q[i], p.fixed[i] = v, true
		return 2 * (llMax - m.logLik(m.fitTo(p, false)))
	}
	bisect := func(inside, outside float64) float64 {
		for range 30 {
			mid := (inside + outside) / 2
			if at(mid) <= chi2at95 {
				inside = mid
			} else {
				outside = mid
			}
			if math.Abs(inside-outside) < 1e-3 {
				break
			}
		}
		return inside
	}
	q := mle.q[i]
	lo, hi = 0, 1
	if q > 0 && at(0) > chi2at95 {
		lo = bisect(q, 0)
	}
	if at(1-1e-9) > chi2at95 {
		hi = bisect(q, 1-1e-9)
	}
	return lo, hi
}

// lrtPValue tests q_i = 0 against the fitted model. The statistic is
// compared with χ²(1) rather than the 50:50 boundary mixture, which halves
// nothing and so errs on the side of the accused.
func (m *model) lrtPValue(mle params, llMax float64, i int) float64 {
	p := mle.clone()
	p.q[i], p.fixed[i] = 0, true
	stat := 2 * (llMax - m.logLik(m.fit(p)))
	if stat <= 0 {
		return 1
	}
	return math.Erfc(math.Sqrt(stat / 2))
}

// holm returns which p-values are rejected at level alpha with Holm's
// step-down adjustment over all of them.
func holm(ps []float64, alpha float64) []bool {
	order := make([]int, len(ps))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case ps[a] < ps[b]:
			return -1
		case ps[a] > ps[b]:
			return 1
		}
		return 0
	})
	out := make([]bool, len(ps))
	for k, i := range order {
		if ps[i] > alpha/float64(len(ps)-k) {
			break
		}
		out[i] = true
	}
	return out
}

// wilson is the Wilson score 95% interval of k successes in n.
func wilson(k, n int) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	const z = 1.959963984540054
	p := float64(k) / float64(n)
	nf := float64(n)
	den := 1 + z*z/nf
	mid := (p + z*z/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	return math.Max(0, mid-half), math.Min(1, mid+half)
}

// maxStep is the largest change of any parameter between a and b.
func maxStep(a, b params) float64 {
	d := math.Abs(a.b - b.b)
	for i := range a.q {
		d = math.Max(d, math.Abs(a.q[i]-b.q[i]))
	}
	return d
}
