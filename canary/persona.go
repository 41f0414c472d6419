package canary

import (
	"fmt"
	"io"
	"strings"

	"github.com/leaktrace/leaktrace/norm"
)

// Persona is a name issued as a canary: the full name a shopper types, and
// the part of it that greetings quote.
type Persona struct {
	Name        string // as typed: "Trần Thị Linh", "王芳", "Linda Carter"
	Key         string // folded full name, unique across all investigations
	GreetKey    string // folded greeted part, unique within an investigation; "" when the list is spent
	Greeting    string // how a caller would address the persona: "chị Linh", "王女士", "Hi Linda"
	EmailPrefix string // ASCII "linh.tran", for email local parts
}

// NewPersona draws a persona for locale. Greeted parts in taken are avoided;
// when one sex's list is spent the other sex's is tried, and when every one
// is taken the persona has no GreetKey and matches only by its full name,
// which is weaker evidence but never false.
func NewPersona(locale string, rnd io.Reader, taken func(greetKey string) bool) (Persona, error) {
	var draw func(io.Reader, bool, func(string) bool) (Persona, error)
	switch locale {
	case LocaleVietnam:
		draw = viPersona
	case LocaleChina:
		draw = zhPersona
	case LocaleUS:
		draw = enPersona
	default:
		return Persona{}, Invalidf("locale %q: use one of %s", locale, strings.Join(Locales, ", "))
	}
	female, err := pick(rnd, 2)
	if err != nil {
		return Persona{}, err
	}
	p, err := draw(rnd, female == 0, taken)
	if err != nil || p.GreetKey != "" || taken == nil {
		return p, err
	}
	return draw(rnd, female != 0, taken)
}

func viPersona(rnd io.Reader, female bool, taken func(string) bool) (Persona, error) {
	given, middle, title := viMaleGiven, viMaleMiddle, "anh"
	if female {
		given, middle, title = viFemaleGiven, viFemaleMiddle, "chị"
	}
	g, err := pickFree(rnd, given, func(s string) string { return norm.Fold(s) }, taken)
	if err != nil {
		return Persona{}, err
	}
	s, err := pickOne(rnd, viSurnames)
	if err != nil {
		return Persona{}, err
	}
	m, err := pickOne(rnd, middle)
	if err != nil {
		return Persona{}, err
	}
	name := s + " " + m + " " + g.value
	return Persona{
		Name: name, Key: norm.Fold(name), GreetKey: g.key,
		Greeting:    title + " " + g.value,
		EmailPrefix: asciiWord(g.value) + "." + asciiWord(s),
	}, nil
}

func zhPersona(rnd io.Reader, female bool, taken func(string) bool) (Persona, error) {
	given, title := zhMaleGiven, "先生"
	if female {
		given, title = zhFemaleGiven, "女士"
	}
	idx := make([]string, len(zhSurnames))
	for i, p := range zhSurnames {
		idx[i] = p[0]
	}
	s, err := pickFree(rnd, idx, norm.Fold, taken)
	if err != nil {
		return Persona{}, err
	}
	gi, err := pick(rnd, len(given))
	if err != nil {
		return Persona{}, err
	}
	surname := zhSurnames[s.index]
	name := surname[0] + given[gi][0]
	return Persona{
		Name: name, Key: norm.Fold(name), GreetKey: s.key,
		Greeting:    surname[0] + title,
		EmailPrefix: given[gi][1] + "." + surname[1],
	}, nil
}

func enPersona(rnd io.Reader, female bool, taken func(string) bool) (Persona, error) {
	given := enMaleGiven
	if female {
		given = enFemaleGiven
	}
	g, err := pickFree(rnd, given, norm.Fold, taken)
	if err != nil {
		return Persona{}, err
	}
	s, err := pickOne(rnd, enSurnames)
	if err != nil {
		return Persona{}, err
	}
	name := g.value + " " + s
	return Persona{
		Name: name, Key: norm.Fold(name), GreetKey: g.key,
		Greeting:    "Hi " + g.value,
		EmailPrefix: asciiWord(g.value) + "." + asciiWord(s),
	}, nil
}

type picked struct {
	value, key string
	index      int
}

// pickFree draws an entry whose folded key is not taken. When all are taken
// it still returns an entry, with an empty key.
func pickFree(rnd io.Reader, list []string, key func(string) string, taken func(string) bool) (picked, error) {
	start, err := pick(rnd, len(list))
	if err != nil {
		return picked{}, err
	}
	for i := range list {
		j := (start + i) % len(list)
		k := key(list[j])
		if taken == nil || !taken(k) {
			return picked{value: list[j], key: k, index: j}, nil
		}
	}
	return picked{value: list[start], index: start}, nil
}

func pickOne(rnd io.Reader, list []string) (string, error) {
	i, err := pick(rnd, len(list))
	if err != nil {
		return "", err
	}
	return list[i], nil
}

// pick returns a uniform index below n, rejecting the biased tail.
func pick(rnd io.Reader, n int) (int, error) {
	var b [2]byte
	limit := 65536 - 65536%n
	for {
		if _, err := io.ReadFull(rnd, b[:]); err != nil {
			return 0, fmt.Errorf("read random: %w", err)
		}
		v := int(b[0])<<8 | int(b[1])
		if v < limit {
			return v % n, nil
		}
	}
}

// asciiWord folds a name to lower-case ASCII letters for an email local part.
func asciiWord(s string) string {
	var b strings.Builder
	for _, r := range norm.Fold(s) {
		if r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// AddressVariant returns base with a unit code the postman ignores but a
// scam letter's envelope repeats, in the locale's way of writing units.
func AddressVariant(locale, base, code string) string {
	code = strings.ToUpper(code)
	switch locale {
	case LocaleVietnam:
		return base + ", Phòng " + code
	case LocaleChina:
		return base + code + "室"
	default:
		return base + ", Unit " + code
	}
}
