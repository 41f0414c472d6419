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
	x.byFirst[firstUnit(key)] = append(x.byFirst[firstUnit(key)], phrase{key, t})
	if hasHan(key) && strings.Contains(key, " ") {
		k := strings.ReplaceAll(key, " ", "")
		x.byFirst[firstUnit(k)] = append(x.byFirst[firstUnit(k)], phrase{k, t})
	}
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

// find calls fn for every key found in folded, with its byte offset. Only
// the start of a unit can start a key, so the scan steps a whole word at a
// time.
func (x *phraseIndex) find(folded string, fn func(p phrase, at int)) {
	if len(x.byFirst) == 0 {
		return
	}
	for i := 0; i < len(folded); {
		r, w := decodeRune(folded[i:])
		end := i + w
		if isWordRune(r) { // never true for Han, a unit of its own
			for end < len(folded) {
				r2, w2 := decodeRune(folded[end:])
				if !isWordRune(r2) {
					break
				}
				end += w2
			}
		}
		for _, p := range x.byFirst[folded[i:end]] {
			if strings.HasPrefix(folded[i:], p.key) && boundary(folded, i, i+len(p.key)) {
				fn(p, i)
			}
		}
		i = end
	}
}

// decodeRune is utf8.DecodeRuneInString with the ASCII case inline.
func decodeRune(s string) (rune, int) {
	if s[0] < utf8.RuneSelf {
		return rune(s[0]), 1
	}
	return utf8.DecodeRuneInString(s)
}
