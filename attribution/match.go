// Package attribution finds the canary tokens a contact reached or quoted,
// and turns matches into candidate sets and party verdicts. It is pure: it
// reads canary values and returns canary values, with no I/O.
package attribution

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/norm"
)

// Addressed is a value a contact was sent to: an address or a number.
type Addressed struct {
	Value string
	How   string // canary.HowRecipient or canary.HowHeader
}

// Text is text a contact carried, and where it was.
type Text struct {
	Text string
	How  string // canary.HowBody, canary.HowHeader or canary.HowEnvelope
}

// Observation is what a contact showed, as the matcher reads it.
type Observation struct {
	ReceivedAt time.Time
	Recipients []Addressed
	Texts      []Text
}

// Matcher finds tokens in observations. Build it once per batch with
// NewMatcher; it is read-only afterwards and safe for concurrent use.
type Matcher struct {
	tokens     []*canary.Token
	byID       map[int64]*canary.Token
	emails     map[string][]*canary.Token
	idn        bool // an email token is at an international domain
	phones     map[string][]*canary.Token
	names      *phraseIndex
	greetings  map[string][]*canary.Token
	addresses  map[string][]*canary.Token
	codes      *phraseIndex // the address codes again, to find them among a text's units
	phoneCache *norm.PhoneCache
	prices     map[string][]*canary.Token
	uniqueFact map[string][]*canary.Token
	placed     map[string][]*canary.Token
	otherFacts *phraseIndex
	domains    map[string]bool // catch-all canary domains
	plusBases  map[string]bool // "me@gmail.com" of plus-style users
	pool       map[string]bool
	secrets    [][]byte
	regions    []string
	locales    []string
}

// NewMatcher indexes the universe's tokens.
func NewMatcher(u *canary.Universe) *Matcher {
	m := &Matcher{
		emails: map[string][]*canary.Token{}, phones: map[string][]*canary.Token{},
		greetings: map[string][]*canary.Token{}, addresses: map[string][]*canary.Token{},
		prices: map[string][]*canary.Token{}, uniqueFact: map[string][]*canary.Token{},
		placed: map[string][]*canary.Token{}, domains: map[string]bool{}, plusBases: map[string]bool{},
		pool: map[string]bool{}, names: newPhraseIndex(), otherFacts: newPhraseIndex(), codes: newPhraseIndex(), phoneCache: norm.NewPhoneCache(), byID: map[int64]*canary.Token{},
	}
	for i := range u.Tokens {
		t := &u.Tokens[i]
		m.tokens = append(m.tokens, t)
		m.byID[t.ID] = t
		switch t.Kind {
		case canary.TokenEmail:
			k := canary.AddressKey(t.Key)
			m.emails[k] = append(m.emails[k], t)
			m.idn = m.idn || strings.Contains(k, "xn--")
		case canary.TokenPhone:
			m.phones[t.Key] = append(m.phones[t.Key], t)
		case canary.TokenName:
			m.names.add(t.Key, t)
			if t.GreetKey != "" {
				m.greetings[t.GreetKey] = append(m.greetings[t.GreetKey], t)
			}
		case canary.TokenAddress:
			m.addresses[t.Key] = append(m.addresses[t.Key], t)
			m.codes.add(t.Key, t)
		case canary.TokenFact:
			switch {
			case t.Field == canary.FactPrice:
				m.prices[t.Key] = append(m.prices[t.Key], t)
			case t.Unique:
				m.uniqueFact[t.Key] = append(m.uniqueFact[t.Key], t)
			case t.Field == canary.FactPlacedAt:
				m.placed[t.Key] = append(m.placed[t.Key], t)
			default:
				m.otherFacts.add(t.Key, t)
			}
		}
	}
	for _, d := range u.Domains {
		if d.Plus {
			m.plusBases[canary.AddressKey(d.Name)] = true
		} else {
			m.domains[canary.DomainKey(d.Name)] = true
		}
	}
	for _, p := range u.Pool {
		m.pool[p.E164] = true
	}
	for _, inv := range u.Investigations {
		m.secrets = append(m.secrets, inv.Secret)
		if r := canary.Region(inv.Locale); !slices.Contains(m.regions, r) {
			m.regions = append(m.regions, r)
		}
		if !slices.Contains(m.locales, inv.Locale) {
			m.locales = append(m.locales, inv.Locale)
		}
	}
	if len(m.regions) == 0 {
		m.regions, m.locales = []string{"VN"}, []string{canary.LocaleVietnam}
	}
	return m
}

// Result is what the matcher found in one observation.
type Result struct {
	Matches  []canary.Match
	Unissued []string // canary addresses or pool numbers reached that hold no token
}

type collector struct {
	res  Result
	seen map[string]bool
}

func (c *collector) add(t *canary.Token, how, excerpt string, partial bool) {
	k := strconv.FormatInt(t.ID, 10) + "\x00" + how
	if c.seen[k] {
		return
	}
	c.seen[k] = true
	c.res.Matches = append(c.res.Matches, canary.Match{TokenID: t.ID, Kind: t.Kind, Value: t.Value, How: how, Partial: partial, Excerpt: clip(excerpt)})
}

func (c *collector) unissued(v string) {
	// A set beside the list: a header can name thousands of addresses.
	if k := "unissued\x00" + v; !c.seen[k] {
		c.seen[k] = true
		c.res.Unissued = append(c.res.Unissued, v)
	}
}

// clip keeps excerpts short: the raw evidence holds the rest.
func clip(s string) string {
	const max = 160
	if len(s) <= max {
		return s
	}
	r := []rune(s)
	if len(r) > max/2 {
		r = r[:max/2]
	}
	return string(r) + "…"
}

// Match returns every token obs reached or quoted.
func (m *Matcher) Match(obs Observation) Result {
	c := &collector{seen: map[string]bool{}}
	for _, r := range obs.Recipients {
		m.recipient(c, r.Value, r.How)
	}
	for _, t := range obs.Texts {
		m.text(c, t)
	}
	m.resolveGreetings(c)
	return c.res
}

func (m *Matcher) recipient(c *collector, v, how string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return
	}
	if strings.Contains(v, "@") {
		m.email(c, v, how, true)
		return
	}
	for _, region := range m.regions {
		e, err := norm.PhoneE164(v, region)
		if err != nil {
			continue
		}
		if ts := m.phones[e]; len(ts) > 0 {
			for _, t := range ts {
				c.add(t, how, v, false)
			}
		} else if m.pool[e] {
			c.unissued(e)
		}
		return
	}
	// Not an address or a number: a postal addressee block, a chat handle.
	m.text(c, Text{Text: v, How: canary.HowEnvelope})
}

// email matches one address. Mail that reached a canary domain or a plus
// base with no issued token is dictionary or guess noise: unissued.
func (m *Matcher) email(c *collector, addr, how string, reached bool) {
	key := canary.AddressKey(strings.Trim(addr, "<>\"' "))
	if ts := m.emails[key]; len(ts) > 0 {
		for _, t := range ts {
			c.add(t, how, addr, false)
		}
		return
	}
	if !reached {
		return
	}
	local, domain, ok := canary.SplitAddress(key)
	if !ok {
		return
	}
	if m.domains[domain] {
		c.unissued(key)
		return
	}
	base := local
	if i := strings.IndexByte(local, '+'); i >= 0 {
		base = local[:i]
	}
	if m.plusBases[base+"@"+domain] {
		c.unissued(key) // a stripped or unknown +tag
	}
}

// CheckIssued reports whether an unissued canary local part nevertheless
// carries a valid check for one of the investigations: issued by us but
// missing from the database, which a person should look into.
func (m *Matcher) CheckIssued(addr string) bool {
	local, _, ok := canary.SplitAddress(addr)
	if !ok {
		return false
	}
	if i := strings.IndexByte(local, '+'); i >= 0 {
		local = local[i+1:]
	}
	for _, s := range m.secrets {
		if canary.CheckLocalPart(s, local) {
			return true
		}
	}
	return false
}

var (
	emailRE    = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+`)
	emailIDNRE = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[\pL\pN\pM\-]+(?:\.[\pL\pN\pM\-]+)+`)
)

// idnText is t made ready for the international address pattern, or ""
// when no '@' in it is followed by a domain with a letter that is not
// ASCII.
func idnText(t string) string {
	if s := canary.AddressText(t); idnAfterAt(s) {
		return s
	}
	return ""
}

// idnAfterAt reports whether a domain after an '@' in s has a letter that
// is not ASCII.
func idnAfterAt(s string) bool {
	for i := strings.IndexByte(s, '@'); i >= 0; {
		j := i + 1
		for j < len(s) && (s[j] == '.' || s[j] == '-' || 'a' <= s[j]|0x20 && s[j]|0x20 <= 'z' || '0' <= s[j] && s[j] <= '9') {
			j++
		}
		if j < len(s) && s[j] >= 0x80 {
			return true
		}
		k := strings.IndexByte(s[j:], '@')
		if k < 0 {
			break
		}
		i = j + k
	}
	return false
}

func (m *Matcher) text(c *collector, t Text) {
	if t.Text == "" {
		return
	}
	folded := norm.Fold(t.Text)
	// Addresses written in a body were not necessarily reached; a canary
	// address quoted in the body still proves the sender held it.
	if strings.IndexByte(folded, '@') >= 0 {
		for _, a := range emailRE.FindAllString(folded, -1) {
			m.email(c, a, t.How, false)
		}
		// Folding takes the marks off an international domain
		// ("bücher.vn" reads "bucher.vn"), so those are read unfolded,
		// where one was issued at and the text writes one.
		if m.idn && !norm.IsASCII(t.Text) {
			for _, a := range emailIDNRE.FindAllString(idnText(t.Text), -1) {
				if local, domain, ok := strings.Cut(a, "@"); ok && !norm.IsASCII(domain) {
					m.email(c, local+"@"+canary.QuotedDomain(domain), t.How, false)
				}
			}
		}
	}
	// Each finder is skipped when nothing of its kind was issued, and the
	// number finders when the text has no digit at all.
	digits := strings.ContainsAny(folded, "0123456789")
	// The number finders share one scan of the text.
	var scan *norm.Scan
	if digits && (len(m.phones) > 0 || len(m.prices) > 0 || len(m.placed) > 0) {
		scan = norm.NewScan(t.Text)
	}
	if digits && len(m.phones) > 0 {
		m.phonesIn(c, t, scan)
	}
	var us []unit
	if !m.names.empty() || !m.otherFacts.empty() || !m.codes.empty() {
		us = units(folded)
	}
	m.namesIn(c, t, folded, us)
	m.codesIn(c, t, folded, us)
	m.factsIn(c, t, folded, us, digits, scan)
}

func (m *Matcher) phonesIn(c *collector, t Text, scan *norm.Scan) {
	for _, region := range m.regions {
		for _, pm := range scan.PhonesCached(region, m.phoneCache) {
			if !pm.Masked {
				for _, tok := range m.phones[pm.E164] {
					c.add(tok, t.How, pm.Text, false)
				}
				continue
			}
			for key, toks := range m.phones {
				if norm.MaskedMatches(pm, key) {
					for _, tok := range toks {
						c.add(tok, t.How, pm.Text, true)
					}
				}
			}
		}
	}
}

// Greeting words per language, folded. A name key right after one of them
// is a greeting ("chị Linh", "Dear Linda"); Chinese puts the title after
// the surname ("王女士").
var (
	greetOne = set("chi", "anh", "em", "co", "chu", "bac", "ban", "chao", "dear", "hi", "hello", "hey", "mr", "ms", "mrs", "miss")
	greetTwo = set("quy khach", "kinh gui", "xin chao")
	// greetFirst holds the first words of both, to turn other words away
	// without a map lookup.
	greetFirst = func() *phraseIndex {
		x := newPhraseIndex()
		for w := range greetOne {
			x.file(w, nil)
		}
		for w := range greetTwo {
			x.file(w, nil)
		}
		return x
	}()

	greetAfter = regexp.MustCompile(`(\p{Han})(女士|先生|小姐|姐|哥|老师|同学|阿姨)`)
	// greetAfterTitles is a quick test that greetAfter may match at all
	// (小姐 holds 姐): most text holds none of them.
	greetAfterTitles = []string{"女士", "先生", "姐", "哥", "老师", "同学", "阿姨"}
)

func set(words ...string) map[string]bool {
	m := map[string]bool{}
	for _, w := range words {
		m[w] = true
	}
	return m
}

func (m *Matcher) namesIn(c *collector, t Text, folded string, us []unit) {
	var full [][2]int
	m.names.find(folded, us, func(p phrase, at int) {
		c.add(p.tok, t.How, folded[at:at+len(p.key)], false)
		full = append(full, [2]int{at, at + len(p.key)})
	})
	if len(m.greetings) == 0 {
		return
	}
	// "Kính gửi Mai Công Cường" greets the whole name: its first word is
	// not the given name of another persona called Mai.
	inFullName := func(at int) bool {
		for _, f := range full {
			if f[0] <= at && at < f[1] {
				return true
			}
		}
		return false
	}
	// A greeting is a title word followed by the greeted word. Titles chain
	// ("xin chao chi Linh"), so every word after a title is tried.
	if us == nil {
		us = units(folded)
	}
	// The word units, by index into us.
	words := make([]int32, 0, len(us))
	for i, u := range us {
		if u.word {
			words = append(words, int32(i))
		}
	}
	word := func(i int) unit { return us[words[i]] }
	for i := 0; i+1 < len(words); i++ {
		wi := word(i)
		if !greetFirst.mayStart(wi.hash) {
			continue
		}
		w := folded[wi.start:wi.end]
		n := 1
		if i+2 < len(words) && greetTwo[w+" "+folded[word(i+1).start:word(i+1).end]] {
			n = 2
		} else if !greetOne[w] {
			continue
		}
		g := word(i + n)
		if inFullName(int(g.start)) {
			continue
		}
		for _, tok := range m.greetings[folded[g.start:g.end]] {
			c.add(tok, canary.HowGreeting, folded[wi.start:g.end], false)
		}
	}
	if !slices.ContainsFunc(greetAfterTitles, func(t string) bool { return strings.Contains(folded, t) }) {
		return
	}
	for _, g := range greetAfter.FindAllStringSubmatchIndex(folded, -1) {
		for _, tok := range m.greetings[folded[g[2]:g[3]]] {
			c.add(tok, canary.HowGreeting, folded[g[0]:g[1]], false)
		}
	}
}

// resolveGreetings keeps a greeting only where it points at one token, or
// at tokens of the investigations other matches already point at: greeted
// names repeat across investigations, full names and addresses do not.
func (m *Matcher) resolveGreetings(c *collector) {
	var invs []string
	byID := m.byID
	for _, mt := range c.res.Matches {
		if mt.How != canary.HowGreeting && !mt.Partial {
			if t := byID[mt.TokenID]; t != nil && !slices.Contains(invs, t.Investigation) {
				invs = append(invs, t.Investigation)
			}
		}
	}
	count := map[string]int{}
	for _, mt := range c.res.Matches {
		if mt.How == canary.HowGreeting {
			count[mt.Excerpt]++
		}
	}
	for i := range c.res.Matches {
		mt := &c.res.Matches[i]
		if mt.How != canary.HowGreeting {
			continue
		}
		t := byID[mt.TokenID]
		switch {
		case len(invs) > 0 && !slices.Contains(invs, t.Investigation):
			mt.Partial = true
		case len(invs) == 0 && count[mt.Excerpt] > 1:
			mt.Partial = true
		}
	}
}

func (m *Matcher) codesIn(c *collector, t Text, folded string, us []unit) {
	// An address code is a word of its own (letters and digits mixed).
	m.codes.find(folded, us, func(p phrase, at int) {
		c.add(p.tok, t.How, p.key, false)
	})
}

// idRuns returns the runs of words that hold a digit, joined by one space
// or hyphen: "2610 1200 01vn" in "don 2610 1200 01vn ngay 12". A word is a
// run of ASCII letters and digits (folded text is lower case). It is what
// the expression [a-z0-9]*[0-9][a-z0-9]*(?:[ -][a-z0-9]*[0-9][a-z0-9]*)*
// finds, in one pass.
func idRuns(folded string, any bool) []string {
	if !any {
		return nil
	}
	isAlnum := func(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
	// word returns the end of the word at i and whether it holds a digit.
	word := func(i int) (int, bool) {
		digit := false
		for ; i < len(folded) && isAlnum(folded[i]); i++ {
			digit = digit || folded[i] <= '9'
		}
		return i, digit
	}
	var out []string
	for i := 0; i < len(folded); {
		if !isAlnum(folded[i]) {
			i++
			continue
		}
		end, digit := word(i)
		if !digit {
			i = end
			continue
		}
		start := i
		for end+1 < len(folded) && (folded[end] == ' ' || folded[end] == '-') && isAlnum(folded[end+1]) {
			next, d := word(end + 1)
			if !d {
				break
			}
			end = next
		}
		out = append(out, folded[start:end])
		i = end
	}
	return out
}

func (m *Matcher) factsIn(c *collector, t Text, folded string, us []unit, digits bool, scan *norm.Scan) {
	if digits && len(m.prices) > 0 {
		for _, pm := range scan.Prices() {
			for _, tok := range m.prices[pm.Price.Key()] {
				c.add(tok, canary.HowFact, pm.Text, false)
			}
		}
	}
	// Order and tracking numbers are written whole or in groups ("2610 1200
	// 01VN"); try every run of adjacent groups, so neighbours such as a time
	// after the number do not hide it.
	for _, run := range idRuns(folded, digits && len(m.uniqueFact) > 0) {
		groups := strings.FieldsFunc(run, func(r rune) bool { return r == ' ' || r == '-' })
		for i := range groups {
			key := ""
			// Nobody writes a number in more than eight groups; the bound
			// keeps a hostile run of digits from costing quadratic time.
			for j := i; j < len(groups) && j < i+8; j++ {
				key += groups[j]
				for _, tok := range m.uniqueFact[key] {
					c.add(tok, canary.HowFact, strings.Join(groups[i:j+1], " "), false)
				}
			}
		}
	}
	if digits && len(m.placed) > 0 {
		for _, loc := range m.locales {
			for _, dm := range scan.DatesWithTimes(loc) {
				for key, toks := range m.placed {
					if placedMatches(key, dm) {
						for _, tok := range toks {
							c.add(tok, canary.HowFact, dm.Text, false)
						}
					}
				}
			}
		}
	}
	m.otherFacts.find(folded, us, func(p phrase, at int) {
		c.add(p.tok, canary.HowFact, p.tok.Value, false)
	})
}

// placedMatches compares a quoted date and time with a placed_at key
// "2006-01-02 15:04" in the investigation's zone.
func placedMatches(key string, dm norm.DateTimeMention) bool {
	t, err := time.Parse("2006-01-02 15:04", key)
	if err != nil {
		return false
	}
	if dm.Year != 0 && dm.Year != t.Year() {
		return false
	}
	return int(t.Month()) == dm.Month && t.Day() == dm.Day && t.Hour() == dm.Hour && t.Minute() == dm.Minute
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

func boundary(s string, start, end int) bool {
	isWord := func(r rune) bool { return (unicode.IsLetter(r) || unicode.IsDigit(r)) && !unicode.Is(unicode.Han, r) }
	if start > 0 {
		r := lastRune(s[:start])
		if isWord(r) && isWord(firstRune(s[start:])) {
			return false
		}
	}
	if end < len(s) {
		if isWord(firstRune(s[end:])) && isWord(lastRune(s[:end])) {
			return false
		}
	}
	return true
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}
