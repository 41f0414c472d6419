package norm

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"unicode"
	"unicode/utf8"
)

// digitRegexp is a regexp every match of which holds an ASCII digit, with
// the set of code points its matches are made of. The regexp package reads
// the whole text for every search, and a long mail has few digits: a
// digitRegexp is searched only in the stretches of text around digits that
// are made of those code points, which hold every match there is.
type digitRegexp struct {
	re    *regexp.Regexp
	class *runeClass // nil when the stretches cannot be known: search the whole text
}

func mustDigitRegexp(expr string) *digitRegexp {
	d := &digitRegexp{re: regexp.MustCompile(expr)}
	tree, err := syntax.Parse(expr, syntax.Perl) // as regexp.Compile parses it
	if err != nil {
		panic(err)
	}
	if !requiresDigit(tree) {
		return d
	}
	c := matchClass(tree)
	for r := '0'; c != nil && r <= '9'; r++ {
		// Stretches are found from the starts of digit runs, so every
		// digit of a run must be in them.
		if !c.has(r) {
			c = nil
		}
	}
	d.class = c
	return d
}

// findAll returns the matches of d in s that ok accepts, as findInWindow
// does over the whole of s. runs are the starts of the runs of ASCII digits
// in s (scanText.runs). A match is a string of code points of d.class holding a
// digit, so it lies within the longest such string around some digit run;
// and since a search in such a stretch sees every match that could start
// in it, whole, it finds what a search of the whole text finds there.
func (d *digitRegexp) findAll(s string, runs []int, ok func(m []int) bool) [][]int {
	if d.class == nil {
		return findInWindow(d.re, s, 0, len(s), ok)
	}
	var out [][]int
	end := 0 // end of the last stretch searched
	for _, r := range runs {
		if r < end {
			continue
		}
		lo := r
		for lo > end {
			c, w := utf8.DecodeLastRuneInString(s[end:lo])
			if !d.class.has(c) {
				break
			}
			lo -= w
		}
		hi := r
		for hi < len(s) {
			c, w := utf8.DecodeRuneInString(s[hi:])
			if !d.class.has(c) {
				break
			}
			hi += w
		}
		out = append(out, findInWindow(d.re, s, lo, hi, ok)...)
		end = hi
	}
	return out
}

// requiresDigit reports whether every string re matches holds an ASCII
// digit.
func requiresDigit(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpLiteral:
		return slices.ContainsFunc(re.Rune, func(r rune) bool { return '0' <= r && r <= '9' })
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return false
		}
		for i := 0; i < len(re.Rune); i += 2 {
			if re.Rune[i] < '0' || re.Rune[i+1] > '9' {
				return false
			}
		}
		return true
	case syntax.OpCapture, syntax.OpPlus:
		return requiresDigit(re.Sub[0])
	case syntax.OpRepeat:
		return re.Min >= 1 && requiresDigit(re.Sub[0])
	case syntax.OpConcat:
		return slices.ContainsFunc(re.Sub, requiresDigit)
	case syntax.OpAlternate:
		return len(re.Sub) > 0 && !slices.ContainsFunc(re.Sub, func(s *syntax.Regexp) bool { return !requiresDigit(s) })
	}
	return false
}

// runeClass is a set of code points.
type runeClass struct {
	ascii  [2]uint64
	ranges [][2]rune // above ASCII, sorted, not overlapping
}

func (c *runeClass) has(r rune) bool {
	if r < utf8.RuneSelf {
		return c.ascii[r>>6]&(1<<(r&63)) != 0
	}
	for _, g := range c.ranges {
		if r < g[0] {
			return false
		}
		if r <= g[1] {
			return true
		}
	}
	return false
}

// matchClass returns the code points the matches of re are made of, or nil
// if re can match any code point or holds an assertion (^, $, \b), whose
// meaning depends on text outside a stretch.
func matchClass(re *syntax.Regexp) *runeClass {
	var ranges [][2]rune
	var walk func(re *syntax.Regexp) bool
	walk = func(re *syntax.Regexp) bool {
		switch re.Op {
		case syntax.OpNoMatch, syntax.OpEmptyMatch:
			return true
		case syntax.OpLiteral:
			for _, r := range re.Rune {
				ranges = append(ranges, [2]rune{r, r})
				if re.Flags&syntax.FoldCase != 0 {
					for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
						ranges = append(ranges, [2]rune{f, f})
					}
				}
			}
			return true
		case syntax.OpCharClass:
			for i := 0; i < len(re.Rune); i += 2 {
				ranges = append(ranges, [2]rune{re.Rune[i], re.Rune[i+1]})
			}
			return true
		case syntax.OpCapture, syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat, syntax.OpConcat, syntax.OpAlternate:
			for _, s := range re.Sub {
				if !walk(s) {
					return false
				}
			}
			return true
		}
		return false
	}
	if !walk(re) {
		return nil
	}
	c := &runeClass{}
	slices.SortFunc(ranges, func(a, b [2]rune) int { return int(a[0] - b[0]) })
	for _, g := range ranges {
		for ; g[0] < utf8.RuneSelf && g[0] <= g[1]; g[0]++ {
			c.ascii[g[0]>>6] |= 1 << (g[0] & 63)
		}
		if g[0] > g[1] {
			continue
		}
		if n := len(c.ranges); n > 0 && g[0] <= c.ranges[n-1][1]+1 {
			c.ranges[n-1][1] = max(c.ranges[n-1][1], g[1])
			continue
		}
		c.ranges = append(c.ranges, g)
	}
	return c
}
