package norm

import (
	"testing"
	"unicode/utf8"
)

// decodeRune must agree with utf8.DecodeRuneInString on every sequence of
// up to three bytes, and with what follows them.
func TestDecodeRune(t *testing.T) {
	var b [4]byte
	check := func(s string) {
		r, w := decodeRune(s, 0)
		if wr, ww := utf8.DecodeRuneInString(s); r != wr || w != ww {
			t.Fatalf("decodeRune(%q)=%U,%d, want %U,%d", s, r, w, wr, ww)
		}
	}
	for c0 := range 0x100 {
		b[0] = byte(c0)
		check(string(b[:1]))
		for c1 := range 0x100 {
			b[1] = byte(c1)
			check(string(b[:2]))
			for c2 := range 0x100 {
				b[2] = byte(c2)
				check(string(b[:3]))
				b[3] = 'a'
				check(string(b[:4]))
			}
		}
	}
	if r, w := decodeRune("xệ", 1); r != 'ệ' || w != 3 {
		t.Fatalf("decodeRune at 1: %U,%d", r, w)
	}
}

// latinIndex must agree with decodeRune and smallIndex on every sequence
// of up to three bytes, for the blocks it reads.
func TestLatinIndex(t *testing.T) {
	var b [3]byte
	check := func(s string) {
		k, w := latinIndex(s, 0)
		want, ww := -1, 0
		if r, rw := utf8.DecodeRuneInString(s); (r != utf8.RuneError || rw > 1) && (latinLo <= r && r <= latinHi || latinExtLo <= r && r <= latinExtHi) {
			want, ww = smallIndex(r), rw
		}
		if k != want || w != ww {
			t.Fatalf("latinIndex(%q)=%d,%d, want %d,%d", s, k, w, want, ww)
		}
	}
	for c0 := range 0x100 {
		b[0] = byte(c0)
		check(string(b[:1]))
		for c1 := range 0x100 {
			b[1] = byte(c1)
			check(string(b[:2]))
			for c2 := range 0x100 {
				b[2] = byte(c2)
				check(string(b[:3]))
			}
		}
	}
}

// smallIndex and hanIndex number the code points of groupRunes in order.
func TestBlockIndex(t *testing.T) {
	for _, han := range []bool{false, true} {
		index, size := smallIndex, smallSize
		if han {
			index, size = hanIndex, hanSize
		}
		runes := groupRunes(han)
		if len(runes) != size {
			t.Fatalf("han=%v: %d code points, size %d", han, len(runes), size)
		}
		in := map[rune]bool{}
		for i, r := range runes {
			in[r] = true
			if got := index(r); got != i {
				t.Fatalf("index(%U)=%d, want %d", r, got, i)
			}
		}
		for r := rune(-1); r <= utf8.MaxRune+1; r++ {
			if !in[r] && index(r) != -1 {
				t.Fatalf("han=%v: index(%U)=%d, want -1", han, r, index(r))
			}
		}
	}
}
