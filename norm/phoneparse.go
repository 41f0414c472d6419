package norm

import (
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// phoneParser reads the candidate numbers of one search with phonenumbers,
// each distinct one once: a mail repeats its number, and phonenumbers.Parse
// is the slowest step of FindPhones. What it gives depends only on the
// candidate and the region, so a repeat gets the first answer.
type phoneParser struct {
	region   string
	valid    map[string]validNumber // made on the first candidate, as most texts have none
	possible map[string]possibleNumber
	shared   *PhoneCache // answers kept across texts, or nil
}

// PhoneCache keeps phonenumbers' answers across texts: scam mail repeats
// the same few numbers to call, message after message. It is safe for
// concurrent use and holds at most phoneCacheMax answers of each kind,
// starting afresh when full.
type PhoneCache struct {
	mu       sync.Mutex
	valid    map[phoneKey]validNumber
	possible map[phoneKey]possibleNumber
}

type phoneKey struct{ candidate, region string }

const phoneCacheMax = 4096

// NewPhoneCache returns an empty cache.
func NewPhoneCache() *PhoneCache {
	return &PhoneCache{valid: map[phoneKey]validNumber{}, possible: map[phoneKey]possibleNumber{}}
}

// cacheGet and cachePut read and write one of c's maps, under its lock.
func cacheGet[V any](c *PhoneCache, m *map[phoneKey]V, k phoneKey) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := (*m)[k]
	return v, ok
}

func cachePut[V any](c *PhoneCache, m *map[phoneKey]V, k phoneKey, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(*m) >= phoneCacheMax {
		*m = map[phoneKey]V{}
	}
	(*m)[k] = v
}

type validNumber struct {
	e164 string
	ok   bool
}

// possibleNumber is what maskedMention needs of a possible number.
type possibleNumber struct {
	nsn         string
	countryCode int
	ok          bool
}

// validE164 returns s in E.164 form if it is a valid number.
func (p *phoneParser) validE164(s string) (string, bool) {
	v, seen := p.valid[s]
	if !seen && p.shared != nil {
		v, seen = cacheGet(p.shared, &p.shared.valid, phoneKey{s, p.region})
	}
	if !seen {
		n, err := phonenumbers.Parse(s, p.region)
		if err == nil && phonenumbers.IsValidNumber(n) {
			v = validNumber{e164: phonenumbers.Format(n, phonenumbers.E164), ok: true}
		}
		if p.shared != nil {
			cachePut(p.shared, &p.shared.valid, phoneKey{s, p.region}, v)
		}
		if p.valid == nil {
			p.valid = map[string]validNumber{}
		}
		p.valid[s] = v
	}
	return v.e164, v.ok
}

// possibleNSN returns the national significant number and country code of
// s if it is a possible number.
func (p *phoneParser) possibleNSN(s string) (string, int, bool) {
	v, seen := p.possible[s]
	if !seen && p.shared != nil {
		v, seen = cacheGet(p.shared, &p.shared.possible, phoneKey{s, p.region})
	}
	if !seen {
		n, err := phonenumbers.Parse(s, p.region)
		if err == nil && phonenumbers.IsPossibleNumber(n) {
			v = possibleNumber{nsn: phonenumbers.GetNationalSignificantNumber(n), countryCode: int(n.GetCountryCode()), ok: true}
		}
		if p.shared != nil {
			cachePut(p.shared, &p.shared.possible, phoneKey{s, p.region}, v)
		}
		if p.possible == nil {
			p.possible = map[string]possibleNumber{}
		}
		p.possible[s] = v
	}
	return v.nsn, v.countryCode, v.ok
}
