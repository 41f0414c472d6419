package attribution

import (
	"regexp"
	"slices"
	"testing"
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
