package norm

import (
	"testing"
	"unicode/utf8"
)

// foldNeighbours are what a tabled code point is tried between: ASCII,
// tabled code points of every kind (letters, white space, dropped, Han,
// full-width, spacing marks that fold to a space and a combining mark), and
// code points that are not tabled because they join their neighbours.
var foldNeighbours = []string{
	"", "a", "Z", "b0", "0", "9", " ", "  ", "\t", "\r\n", ".", "-", "\x01", "\x7f",
	"ệ", "Ệ", "đ", "Đ", "ư", "ǅ", "İ", "ẞ", "ß", "½", "¨", "´", "\u00a0", "\u00ad", "\u0085",
	"\u200b", "\u200d", "\u2002", "\u2026", "\u3000", "、", "王", "㐀", "Ａ", "，", "～",
	"Σ", "σ", "ς", "ΐ", // Greek: final sigma depends on what follows
	"\u1100", "\u1161", "\u11a8", "가", // Hangul jamo compose
	"ｶ", "\uff9e", "\uff9f", // halfwidth katakana and voiced marks compose
	"\u0301", "\u0323", "\u0338", "\u0345", "\u302a", "\u3099",
	"\ufffd", "\xff", "\xe1\xbb", // invalid UTF-8
	"😀", "\U0001d6ba", // math bold capital sigma folds to σ
}

// tabledRunes returns the code points of a group with an entry other than
// entryUnknown, and how many it has of each kind.
func tabledRunes(t *testing.T, han bool) ([]rune, map[int]int) {
	tab := foldSmall()
	if han {
		tab = foldHan()
	}
	kinds := map[int]int{}
	var out []rune
	for i, r := range groupRunes(han) {
		k := tab.entries[i].kind()
		kinds[k]++
		if k != entryUnknown {
			out = append(out, r)
		}
	}
	return out, kinds
}

func checkFold(t *testing.T, s string) {
	t.Helper()
	if got, want := Fold(s), foldFull(s); got != want {
		t.Fatalf("Fold(%q)=%q, foldFull %q", s, got, want)
	}
}

// foldCore are the neighbours tried on both sides at once: one of every
// kind in foldNeighbours.
var foldCore = []string{
	"", "a", " ", "0", ".", "\x01", "ệ", "Đ", "½", "¨", "\u00a0", "\u200b", "\u3000", "王", "Ａ",
	"Σ", "\u1161", "\uff9e", "\u0301", "\xff", "😀",
}

// TestFoldTabledNeighbours folds every tabled code point of the small group
// between every pair of core neighbours, next to every other neighbour, and
// next to every combining mark of U+0300–U+036F.
func TestFoldTabledNeighbours(t *testing.T) {
	runes, kinds := tabledRunes(t, false)
	t.Logf("small group: %d tabled, kinds %v", len(runes), kinds)
	if len(runes) < 900 {
		t.Fatalf("only %d code points of the small group tabled", len(runes))
	}
	var marks []string
	for m := rune(0x300); m <= 0x36f; m++ {
		marks = append(marks, string(m))
	}
	step := 1
	if testing.Short() || raceEnabled {
		step = 7
	}
	for i := 0; i < len(runes); i += step {
		rs := string(runes[i])
		for _, x := range foldCore {
			for _, y := range foldCore {
				checkFold(t, x+rs+y)
			}
		}
		for _, x := range foldNeighbours {
			checkFold(t, x+rs)
			checkFold(t, rs+x)
			checkFold(t, "a"+x+rs+"b")
			checkFold(t, "a"+rs+x+"b")
		}
		for _, m := range marks {
			checkFold(t, rs+m)
			checkFold(t, "a"+m+rs+"b")
			checkFold(t, "a"+rs+m+"b")
		}
	}
}

// TestFoldTabledPairs folds every pair of tabled code points of the small
// group, side by side and between spaces and letters.
func TestFoldTabledPairs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a million pairs")
	}
	runes, _ := tabledRunes(t, false)
	for _, a := range runes {
		for _, b := range runes {
			checkFold(t, string(a)+string(b))
		}
	}
}

// TestFoldTabledHan folds every tabled Han character between some
// neighbours: they fold to themselves, but that is for the table to say.
func TestFoldTabledHan(t *testing.T) {
	runes, kinds := tabledRunes(t, true)
	t.Logf("Han group: %d tabled, kinds %v", len(runes), kinds)
	pairs := [][2]string{{"", ""}, {"a", "b"}, {" ", " "}, {"王", "ệ"}, {"，", "\u0301"}, {"\u3000", "Σ"}, {"Ａ", "\uff9e"}, {"\u200b", "\xff"}}
	for _, r := range runes {
		for _, p := range pairs {
			checkFold(t, p[0]+string(r)+p[1])
		}
	}
}

func TestFoldTabledSeeds(t *testing.T) {
	for _, s := range append(foldSeeds(t), foldNeighbours...) {
		checkFold(t, s)
	}
}

// The fast path must agree with foldFull on any text.
func FuzzFoldFast(f *testing.F) {
	for _, s := range foldSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, want := Fold(s), foldFull(s)
		if got != want {
			t.Fatalf("Fold(%q)=%q, foldFull %q", s, got, want)
		}
		if f, ok := foldTabled(s); ok && f != want {
			t.Fatalf("foldTabled(%q)=%q, foldFull %q", s, f, want)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("Fold(%q)=%q, not valid UTF-8", s, got)
		}
	})
}
