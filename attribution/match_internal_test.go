package attribution

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/norm"
)

// idRunRE is what idRuns used to run; the scanner must find the same runs.
var idRunRE = regexp.MustCompile(`[a-z0-9]*[0-9][a-z0-9]*(?:[ \-][a-z0-9]*[0-9][a-z0-9]*)*`)

var idRunSeeds = []string{
	"", "abc", "2610 1200 01vn", "don 2610 1200 01vn ngay 12", "x-1-2-y 3", "a1 b c2", "12  34", "12- 34",
	"订单号2611011234。", "spx vn0123456789 luc 10:05", "--1--", "1 ", " 1", "a-b-1", "1-a-2", "ab12cd-ef",
}

func TestIDRunsAsExpression(t *testing.T) {
	for _, s := range idRunSeeds {
		if got, want := idRuns(s, true), idRunRE.FindAllString(s, -1); !slices.Equal(got, want) {
			t.Errorf("idRuns(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzIDRuns(f *testing.F) {
	for _, s := range idRunSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := idRuns(s, true), idRunRE.FindAllString(s, -1); !slices.Equal(got, want) {
			t.Fatalf("idRuns(%q) = %q, want %q", s, got, want)
		}
	})
}

// findNaive is what phraseIndex.find must return: every key at every byte
// where a unit starts (not inside a Latin word), within word boundaries.
func findNaive(keys []string, folded string) [][2]int {
	var out [][2]int
	for i := range len(folded) {
		if !utf8.RuneStart(folded[i]) {
			continue
		}
		r, _ := utf8.DecodeRuneInString(folded[i:])
		if i > 0 && isWordRune(r) {
			if prev, _ := utf8.DecodeLastRuneInString(folded[:i]); isWordRune(prev) {
				continue
			}
		}
		for k, key := range keys {
			if strings.HasPrefix(folded[i:], key) && boundary(folded, i, i+len(key)) {
				out = append(out, [2]int{k, i})
			}
		}
	}
	return out
}

func findIndexed(keys []string, folded string) [][2]int {
	x := newPhraseIndex()
	toks := make([]canary.Token, len(keys))
	for k, key := range keys {
		toks[k].ID = int64(k)
		x.file(key, &toks[k])
	}
	var out [][2]int
	x.find(folded, units(folded), func(p phrase, at int) { out = append(out, [2]int{int(p.tok.ID), at}) })
	slices.SortFunc(out, func(a, b [2]int) int { return cmp.Or(a[1]-b[1], a[0]-b[0]) })
	return out
}

func FuzzPhraseFind(f *testing.F) {
	f.Add("tran thi linh|kem chong nang|王芳", "kinh gui tran thi linh, kem chong nang 2 hop; 王芳女士")
	f.Add("ab|b|a b", "ab a b cab b")
	f.Add("-x|x", "a-x x-x")
	f.Fuzz(func(t *testing.T, keyList, text string) {
		folded := norm.Fold(text)
		var keys []string
		for _, k := range strings.Split(keyList, "|") {
			if k = norm.Fold(k); k != "" && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		got, want := findIndexed(keys, folded), findNaive(keys, folded)
		if !slices.Equal(got, want) {
			t.Fatalf("keys %q in %q: found %v, want %v", keys, folded, got, want)
		}
	})
}
