package norm

import (
	"slices"
	"strings"
	"testing"

	"github.com/leaktrace/leaktrace/norm/internal/ref"
)

// scanTextSlow is scanText as it was before the tables (the frozen copy in
// internal/ref): two offsets kept for every folded byte. It is the
// reference the fast one is tested against.
type scanTextSlow struct {
	s          string
	start, end []int
}

func newScanTextSlow(text string) scanTextSlow {
	s, start, end := ref.ScanText(text)
	return scanTextSlow{s: s, start: start, end: end}
}

func (t scanTextSlow) orig(i, j int) (int, int) {
	return t.start[i], t.end[j-1]
}

func checkScanText(t *testing.T, text string) {
	t.Helper()
	got, want := newScanText(text), newScanTextSlow(text)
	if got.s != want.s {
		t.Fatalf("newScanText(%q).s=%q, want %q", text, got.s, want.s)
	}
	if runs := digitRuns(got.s); !slices.Equal(got.runs, runs) {
		t.Fatalf("newScanText(%q).runs=%v, want %v", text, got.runs, runs)
	}
	for k := range len(want.s) {
		if start, end := got.span(k); start != want.start[k] || end != want.end[k] {
			t.Fatalf("newScanText(%q).span(%d)=%d,%d, want %d,%d", text, k, start, end, want.start[k], want.end[k])
		}
	}
	// orig on a few ranges, ends included.
	for _, r := range [][2]int{{0, len(want.s)}, {0, 1}, {len(want.s) - 1, len(want.s)}, {len(want.s) / 3, len(want.s) / 2}} {
		if r[0] < 0 || r[0] >= r[1] || r[1] > len(want.s) {
			continue
		}
		gs, ge := got.orig(r[0], r[1])
		ws, we := want.orig(r[0], r[1])
		if gs != ws || ge != we {
			t.Fatalf("newScanText(%q).orig(%d, %d)=%d,%d, want %d,%d", text, r[0], r[1], gs, ge, ws, we)
		}
	}
}

// scanSeeds are foldSeeds and texts long enough to need many marks, with
// dropped code points across them.
func scanSeeds(tb testing.TB) []string {
	seeds := foldSeeds(tb)
	seeds = append(seeds,
		"\u0301\u0301leading marks a\u0301\u0323 trailing\u0301\u0302",
		"a"+strings.Repeat("\u0301", 300)+"b"+strings.Repeat("\u0323x", 200),
		strings.Repeat("½", 100)+strings.Repeat("ệ\u0301", 100)+strings.Repeat("\xff\xe1", 100),
		strings.Repeat("Ａ１２３－４５６　", 60),
		"\ufdfa\ufdfa\u3392\u33ff ﷺ",
		// Long runs of code points that fold to nothing, before and
		// after mentions.
		strings.Repeat("\u0301", 2000)+"5đ "+strings.Repeat("a\u0301\u0301\u0301", 500)+"68.500đ"+strings.Repeat("\u0323", 1000),
	)
	return seeds
}

func TestScanTextSeeds(t *testing.T) {
	for _, s := range scanSeeds(t) {
		checkScanText(t, s)
	}
}

// TestScanTextTabled folds every tabled code point, alone and between
// others, in one long text.
func TestScanTextTabled(t *testing.T) {
	var b strings.Builder
	for _, han := range []bool{false, true} {
		for i, r := range groupRunes(han) {
			if han && i%50 != 0 {
				continue
			}
			checkScanText(t, string(r))
			b.WriteRune(r)
			b.WriteString("a\u0301")
			b.WriteRune(r)
			b.WriteString("\u0301")
		}
	}
	checkScanText(t, b.String())
	// Every Han character, in one text, against the reference.
	var h strings.Builder
	for _, r := range groupRunes(true) {
		h.WriteRune(r)
	}
	checkScanText(t, h.String())
}

func FuzzScanText(f *testing.F) {
	for _, s := range scanSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkScanText(t, text)
	})
}
