package attribution

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/leaktrace/leaktrace/canary"
)

// phraseIndex finds folded keys (names, item names) in folded text in one
// pass: keys are filed under their first unit, a Latin word or a Han
// character, and only positions that start such a unit are tried. Chinese
// keys also match with their spaces removed, since Chinese text rarely has
// them.
type phraseIndex struct {
	byFirst map[string][]phrase
	// firsts is a one-hash Bloom filter of the keys' first units: most
	// words of a text start no key, and the filter turns them away without
	// the map lookup, which was the larger part of matching a long mail.
	firsts [filterBits / 64]uint64
}

const filterBits = 1 << 14

func (x *phraseIndex) mayStart(h uint32) bool {
	h %= filterBits
	return x.firsts[h/64]&(1<<(h%64)) != 0
}

type phrase struct {
	key string
	tok *canary.Token
}

func newPhraseIndex() *phraseIndex { return &phraseIndex{byFirst: map[string][]phrase{}} }

func (x *phraseIndex) add(key string, t *canary.Token) {
	if key == "" {
		return
	}
	x.file(key, t)
	if hasHan(key) && strings.Contains(key, " ") {
		x.file(strings.ReplaceAll(key, " ", ""), t)
	}
}

func (x *phraseIndex) file(key string, t *canary.Token) {
	first := firstUnit(key)
	x.byFirst[first] = append(x.byFirst[first], phrase{key, t})
	h := unitHash(first) % filterBits
	x.firsts[h/64] |= 1 << (h % 64)
}

func (x *phraseIndex) empty() bool { return len(x.byFirst) == 0 }

func isHan(r rune) bool { return r >= 0x2E80 && unicode.Is(unicode.Han, r) }

// isWordRune reports letters and digits outside Han, with an ASCII fast
// path: folded text is mostly ASCII and this runs for every rune.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || 'A' <= r && r <= 'Z'
	}
	return (unicode.IsLetter(r) || unicode.IsDigit(r)) && !isHan(r)
}

// firstUnit is the first Han character of s, or its first Latin word.
func firstUnit(s string) string {
	r, w := utf8.DecodeRuneInString(s)
	if isHan(r) || !isWordRune(r) {
		return s[:w]
	}
	end := len(s)
	for i, r := range s {
		if !isWordRune(r) {
			end = i
			break
		}
	}
	return s[:end]
}

// unit is a place where a key may start in folded text: a Latin word, a
// Han character, or any other single character but white space.
type unit struct {
	start, end int32  // folded text is at most MaxTextBytes, far below 2 GiB
	hash       uint32 // unitHash of folded[start:end]
	word       bool
}

// units splits folded text into units in one pass, hashing each, so the
// indexes and the greeting finder share the work. ASCII, most of folded
// text, takes a path without rune decoding.
func units(folded string) []unit {
	out := make([]unit, 0, len(folded)/5)
	for i := 0; i < len(folded); {
		c := folded[i]
		if c == ' ' {
			i++
			continue
		}
		var word bool
		end := i + 1
		if c < utf8.RuneSelf {
			word = asciiWord(c)
		} else {
			r, w := utf8.DecodeRuneInString(folded[i:])
			word, end = isWordRune(r), i+w // never true for Han, a unit of its own
		}
		if word {
			for end < len(folded) {
				if c := folded[end]; c < utf8.RuneSelf {
					if !asciiWord(c) {
						break
					}
					end++
					continue
				}
				r, w := utf8.DecodeRuneInString(folded[end:])
				if !isWordRune(r) {
					break
				}
				end += w
			}
		}
		out = append(out, unit{start: int32(i), end: int32(end), hash: unitHash(folded[i:end]), word: word})
		i = end
	}
	return out
}

func asciiWord(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z'
}

// find calls fn for every key found in folded, with its byte offset, trying
// only the starts of units (those of units(folded)).
func (x *phraseIndex) find(folded string, us []unit, fn func(p phrase, at int)) {
	if len(x.byFirst) == 0 {
		return
	}
	for _, u := range us {
		if !x.mayStart(u.hash) {
			continue
		}
		start := int(u.start)
		for _, p := range x.byFirst[folded[start:u.end]] {
			if strings.HasPrefix(folded[start:], p.key) && boundary(folded, start, start+len(p.key)) {
				fn(p, start)
			}
		}
	}
}

// unitHash is 32-bit FNV-1a.
func unitHash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
