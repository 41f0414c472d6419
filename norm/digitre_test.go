package norm

import (
	"regexp/syntax"
	"slices"
	"testing"
)

var dateTimeRegexps = map[string]*digitRegexp{
	"dateISORe": dateISORe, "dateZhRe": dateZhRe, "dateViRe": dateViRe, "dateNumRe": dateNumRe,
	"dateMDYRe": dateMDYRe, "dateDMYRe": dateDMYRe, "timeColRe": timeColRe, "timeViRe": timeViRe,
	"timeZhRe": timeZhRe, "timeAmPmRe": timeAmPmRe,
}

// Every date and time regexp is searched around digits only; one that
// lost its class would still be right, only slow.
func TestDateTimeRegexpsWindowed(t *testing.T) {
	for name, d := range dateTimeRegexps {
		if d.class == nil {
			t.Errorf("%s is searched in the whole text", name)
		}
	}
}

func TestRequiresDigit(t *testing.T) {
	tests := []struct {
		expr string
		want bool
	}{
		{`[0-9]`, true}, {`a1`, true}, {`a[0-9]{1,2}b`, true}, {`(?:a|b)[0-9]+`, true}, {`x|[0-9]`, false},
		{`[0-9]?`, false}, {`[0-9]*`, false}, {`[0-9]{0,2}`, false}, {`[0-9a]`, false}, {`[1-3]|7`, true},
		{`abc`, false}, {`(1)`, true}, {`(?:1x|y2)`, true}, {`(?:1x|y)`, false},
	}
	for _, tt := range tests {
		re, err := syntax.Parse(tt.expr, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		if got := requiresDigit(re); got != tt.want {
			t.Errorf("requiresDigit(%q)=%v, want %v", tt.expr, got, tt.want)
		}
	}
}

func TestMatchClass(t *testing.T) {
	tests := []struct {
		expr    string
		in, out string // code points in and out of the class; "-" for a nil class
	}{
		{`[0-9]:[0-9]{2}`, "0123456789:", "a /٣"},
		{`(上午|下午)? ?[0-9]+[点時]`, "上午下 0点時9", "中a:"},
		{`(?i)k[0-9]`, "kK\u212a5", "j"},
		{`(?:jan|feb)([a-z]*)\.? ?[0-9]`, "janfebxyz. 0", ",-A"},
		{`^[0-9]`, "-", ""},
		{`[0-9]$`, "-", ""},
		{`\b[0-9]`, "-", ""},
		{`.[0-9]`, "-", ""},
		{`[^a][0-9]`, "b€0\U0001F600", "a"},
	}
	for _, tt := range tests {
		re, err := syntax.Parse(tt.expr, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		c := matchClass(re)
		if tt.in == "-" {
			if c != nil {
				t.Errorf("matchClass(%q) not nil", tt.expr)
			}
			continue
		}
		for _, r := range tt.in {
			if !c.has(r) {
				t.Errorf("matchClass(%q) lacks %q", tt.expr, r)
			}
		}
		for _, r := range tt.out {
			if c.has(r) {
				t.Errorf("matchClass(%q) has %q", tt.expr, r)
			}
		}
	}
}

// checkDigitRegexps compares the windowed search of every date and time
// regexp with a search of the whole text, accepting every match and then
// refusing some, which makes the search resume inside a refused match.
func checkDigitRegexps(t *testing.T, s string) {
	t.Helper()
	runs := digitRuns(s)
	for name, d := range dateTimeRegexps {
		for _, ok := range []func(m []int) bool{
			func(m []int) bool { return true },
			func(m []int) bool { return m[0]%3 != 0 },
			func(m []int) bool { return (m[1]-m[0])%2 == 0 },
		} {
			got, want := d.findAll(s, runs, ok), findInWindow(d.re, s, 0, len(s), ok)
			if !slices.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("%s in %q: %v, whole text %v", name, s, got, want)
			}
		}
	}
}

// digitRuns returns where the runs of ASCII digits in s start: what
// newScanText records as it folds.
func digitRuns(s string) []int {
	var out []int
	for i := 0; i < len(s); i++ {
		if isASCIIDigit(rune(s[i])) && (i == 0 || !isASCIIDigit(rune(s[i-1]))) {
			out = append(out, i)
		}
	}
	return out
}

func TestDigitRegexpSeeds(t *testing.T) {
	for _, s := range refSeeds(t) {
		checkDigitRegexps(t, s)
		checkDigitRegexps(t, newScanText(s).s)
	}
}

func FuzzDigitRegexp(f *testing.F) {
	for _, s := range refSeeds(f) {
		f.Add(newScanText(s).s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkDigitRegexps(t, s)
	})
}
