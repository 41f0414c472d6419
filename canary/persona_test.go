package canary_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"unicode"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/norm"
)

func mustPersona(tb testing.TB, locale string, rnd io.Reader, taken func(string) bool) canary.Persona {
	tb.Helper()
	p, err := canary.NewPersona(locale, rnd, taken)
	if err != nil {
		tb.Fatalf("NewPersona(%s): %v", locale, err)
	}
	return p
}

func isASCIIWord(s string) bool {
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return s != ""
}

func TestNewPersona(t *testing.T) {
	for _, tc := range []struct {
		locale string
		// name checks the script of one drawn name.
		name     func(string) bool
		greeting func(p canary.Persona) bool
	}{
		{canary.LocaleVietnam,
			func(s string) bool { return len(strings.Fields(s)) == 3 },
			func(p canary.Persona) bool {
				g := strings.Fields(p.Name)[2]
				return p.Greeting == "chị "+g || p.Greeting == "anh "+g
			}},
		{canary.LocaleChina,
			func(s string) bool {
				n := 0
				for _, r := range s {
					if !unicode.Is(unicode.Han, r) {
						return false
					}
					n++
				}
				return n >= 2 && n <= 3
			},
			func(p canary.Persona) bool {
				s := string([]rune(p.Name)[:1])
				return p.Greeting == s+"女士" || p.Greeting == s+"先生"
			}},
		{canary.LocaleUS,
			func(s string) bool {
				f := strings.Fields(s)
				return len(f) == 2 && !strings.ContainsFunc(s, func(r rune) bool { return r > unicode.MaxASCII })
			},
			func(p canary.Persona) bool { return p.Greeting == "Hi "+strings.Fields(p.Name)[0] }},
	} {
		t.Run(tc.locale, func(t *testing.T) {
			rnd := newRand(t, 1)
			diacritics, titles := 0, map[string]bool{}
			for i := 0; i < 500; i++ {
				p := mustPersona(t, tc.locale, rnd, nil)
				if !tc.name(p.Name) {
					t.Fatalf("Name=%q: not a %s name", p.Name, tc.locale)
				}
				if want := norm.Fold(p.Name); p.Key != want {
					t.Fatalf("Key=%q, want %q", p.Key, want)
				}
				if p.GreetKey == "" {
					t.Fatalf("GreetKey of %q is empty with nothing taken", p.Name)
				}
				if !tc.greeting(p) {
					t.Fatalf("Greeting=%q for Name %q", p.Greeting, p.Name)
				}
				// The greeted part is what greetings quote, folded.
				if !strings.Contains(norm.Fold(p.Greeting), p.GreetKey) {
					t.Fatalf("Greeting=%q does not contain GreetKey %q", p.Greeting, p.GreetKey)
				}
				parts := strings.Split(p.EmailPrefix, ".")
				if len(parts) != 2 || !isASCIIWord(parts[0]) || !isASCIIWord(parts[1]) {
					t.Fatalf("EmailPrefix=%q, want given.surname in lower-case ASCII", p.EmailPrefix)
				}
				if norm.Fold(p.Name) != strings.ToLower(p.Name) {
					diacritics++
				}
				titles[strings.Fields(p.Greeting)[0]] = true
			}
			if tc.locale == canary.LocaleVietnam {
				if diacritics < 400 {
					t.Fatalf("%d of 500 Vietnamese names have diacritics, want most", diacritics)
				}
				if !titles["chị"] || !titles["anh"] {
					t.Fatalf("greeting titles=%v, want both chị and anh", titles)
				}
			}
		})
	}
}

func TestNewPersonaVietnameseEmailPrefix(t *testing.T) {
	// The email prefix is the ASCII given name and surname of the persona.
	rnd := newRand(t, 1)
	for i := 0; i < 200; i++ {
		p := mustPersona(t, canary.LocaleVietnam, rnd, nil)
		f := strings.Fields(norm.Fold(p.Name))
		want := f[len(f)-1] + "." + f[0]
		if p.EmailPrefix != want {
			t.Fatalf("EmailPrefix=%q, want %q (Name %q)", p.EmailPrefix, want, p.Name)
		}
	}
}

func TestNewPersonaUnknownLocale(t *testing.T) {
	for _, l := range []string{"", "fr-FR", "vi", "VI-VN"} {
		_, err := canary.NewPersona(l, newRand(t, 1), nil)
		if !errors.Is(err, canary.ErrInvalid) {
			t.Fatalf("NewPersona(%q) err=%v, want ErrInvalid", l, err)
		}
	}
}

func TestNewPersonaShortRandom(t *testing.T) {
	_, err := canary.NewPersona(canary.LocaleVietnam, strings.NewReader("x"), nil)
	if err == nil {
		t.Fatalf("NewPersona(short reader) err=nil, want an error")
	}
}

// TestNewPersonaTaken draws personas as an investigation does, marking each
// greeted part taken, until the lists are spent.
func TestNewPersonaTaken(t *testing.T) {
	for _, tc := range []struct {
		locale string
		keys   int // distinct greeted parts of the locale, both sexes
	}{
		{canary.LocaleVietnam, foldedKeys(canary.VIFemaleGiven, canary.VIMaleGiven)},
		{canary.LocaleChina, foldedKeys(firsts(canary.ZHSurnames))},
		{canary.LocaleUS, foldedKeys(canary.ENFemaleGiven, canary.ENMaleGiven)},
	} {
		t.Run(tc.locale, func(t *testing.T) {
			rnd := newRand(t, 1)
			taken := map[string]bool{}
			asked := 0
			isTaken := func(k string) bool { asked++; return taken[k] }
			for i := 0; i < tc.keys; i++ {
				p := mustPersona(t, tc.locale, rnd, isTaken)
				if p.GreetKey == "" {
					t.Fatalf("draw %d of %d: GreetKey is empty, but %d greeted parts are still free",
						i+1, tc.keys, tc.keys-len(taken))
				}
				if taken[p.GreetKey] {
					t.Fatalf("draw %d: GreetKey=%q was taken", i+1, p.GreetKey)
				}
				taken[p.GreetKey] = true
			}
			if asked == 0 {
				t.Fatalf("the taken callback was never called")
			}
			// Every greeted part is taken now: personas still come, without a key.
			for i := 0; i < 50; i++ {
				p := mustPersona(t, tc.locale, rnd, isTaken)
				if p.GreetKey != "" {
					t.Fatalf("GreetKey=%q with every greeted part taken, want \"\"", p.GreetKey)
				}
				if p.Name == "" || p.Key != norm.Fold(p.Name) {
					t.Fatalf("Name=%q Key=%q with every greeted part taken", p.Name, p.Key)
				}
			}
		})
	}
}

func TestNewPersonaAllTaken(t *testing.T) {
	for _, locale := range canary.Locales {
		p := mustPersona(t, locale, newRand(t, 1), func(string) bool { return true })
		if p.GreetKey != "" {
			t.Fatalf("%s: GreetKey=%q with every key taken, want \"\"", locale, p.GreetKey)
		}
	}
}

func firsts(ps [][2]string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p[0]
	}
	return out
}

func foldedKeys(lists ...[]string) int {
	keys := map[string]bool{}
	for _, l := range lists {
		for _, s := range l {
			keys[norm.Fold(s)] = true
		}
	}
	return len(keys)
}

// TestNameListsFoldUnique checks what greetings rely on: within each list
// of greeted parts no two entries fold to one key ("chị Linh" and "chị Lình"
// would be one key, so they cannot both be in the list).
func TestNameListsFoldUnique(t *testing.T) {
	for _, tc := range []struct {
		name string
		list []string
		min  int
	}{
		{"vi female given", canary.VIFemaleGiven, 50},
		{"vi male given", canary.VIMaleGiven, 30},
		{"en female given", canary.ENFemaleGiven, 50},
		{"en male given", canary.ENMaleGiven, 50},
		{"zh surnames", firsts(canary.ZHSurnames), 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.list) < tc.min {
				t.Fatalf("len=%d, want at least %d", len(tc.list), tc.min)
			}
			seen := map[string]string{}
			for _, s := range tc.list {
				k := norm.Fold(s)
				if k == "" {
					t.Fatalf("%q folds to an empty key", s)
				}
				if prev, ok := seen[k]; ok {
					t.Fatalf("%q and %q fold to one key %q", prev, s, k)
				}
				seen[k] = s
			}
		})
	}
}

func TestZHSurnames(t *testing.T) {
	for _, p := range canary.ZHSurnames {
		if n := len([]rune(p[0])); n != 1 || !unicode.Is(unicode.Han, []rune(p[0])[0]) {
			t.Fatalf("surname %q: want one Han character", p[0])
		}
		if !isASCIIWord(p[1]) {
			t.Fatalf("pinyin of %s=%q, want lower-case ASCII", p[0], p[1])
		}
	}
}

func TestAddressVariant(t *testing.T) {
	for _, tc := range []struct{ locale, base, code, want string }{
		{canary.LocaleVietnam, "12 Lý Thường Kiệt, Hoàn Kiếm, Hà Nội", "k7q2", "12 Lý Thường Kiệt, Hoàn Kiếm, Hà Nội, Phòng K7Q2"},
		{canary.LocaleChina, "上海市浦东新区世纪大道100号", "94xd", "上海市浦东新区世纪大道100号94XD室"},
		{canary.LocaleUS, "1 Main St, Springfield", "a2b3", "1 Main St, Springfield, Unit A2B3"},
		{"", "1 Main St", "a2b3", "1 Main St, Unit A2B3"},
	} {
		got := canary.AddressVariant(tc.locale, tc.base, tc.code)
		if got != tc.want {
			t.Fatalf("AddressVariant(%q)=%q, want %q", tc.locale, got, tc.want)
		}
		// The code survives folding, so matching can find it.
		if !strings.Contains(norm.Fold(got), norm.Fold(tc.code)) {
			t.Fatalf("Fold(%q) lost the code %q", got, tc.code)
		}
	}
}
