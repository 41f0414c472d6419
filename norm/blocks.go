package norm

import "unicode/utf8"

// The Unicode blocks that Vietnamese, Chinese and English mail is written
// in. Fold and the finders' scan text keep a table of what they do to every
// code point of these blocks, built once on first use, so that the common
// text never reaches the general Unicode machinery. Code points outside the
// blocks still take the general path, which the tables are built from and
// tested against.
//
// The blocks come in two groups so that Vietnamese text does not pay for
// building the 27,000 entries of the Han group.
//
// Greek (a final sigma folds by its context) and halfwidth katakana (a
// voiced mark composes with the letter before it) are left out on purpose:
// they cannot be folded one code point at a time.

// smallBlocks are Latin-1 Supplement, Latin Extended-A and -B, Latin
// Extended Additional (the precomposed Vietnamese letters), General
// Punctuation, CJK Symbols and Punctuation, and the full-width ASCII forms.
const (
	latinLo, latinHi       = 0x0080, 0x024F
	latinExtLo, latinExtHi = 0x1E00, 0x1EFF
	punctLo, punctHi       = 0x2000, 0x206F
	cjkSymLo, cjkSymHi     = 0x3000, 0x303F
	wideLo, wideHi         = 0xFF01, 0xFF5E

	latinBase  = 0
	latinExtAt = latinBase + latinHi - latinLo + 1
	punctAt    = latinExtAt + latinExtHi - latinExtLo + 1
	cjkSymAt   = punctAt + punctHi - punctLo + 1
	wideAt     = cjkSymAt + cjkSymHi - cjkSymLo + 1
	smallSize  = wideAt + wideHi - wideLo + 1
)

// hanBlocks are CJK Unified Ideographs and its Extension A.
const (
	hanALo, hanAHi = 0x3400, 0x4DBF
	hanLo, hanHi   = 0x4E00, 0x9FFF

	hanAAt  = 0
	hanAt   = hanAAt + hanAHi - hanALo + 1
	hanSize = hanAt + hanHi - hanLo + 1
)

// smallIndex returns r's index in the small group's tables, or -1.
func smallIndex(r rune) int {
	switch {
	case r < latinLo:
		return -1
	case r <= latinHi:
		return int(r-latinLo) + latinBase
	case r < latinExtLo:
		return -1
	case r <= latinExtHi:
		return int(r-latinExtLo) + latinExtAt
	case r < punctLo:
		return -1
	case r <= punctHi:
		return int(r-punctLo) + punctAt
	case r < cjkSymLo:
		return -1
	case r <= cjkSymHi:
		return int(r-cjkSymLo) + cjkSymAt
	case r < wideLo:
		return -1
	case r <= wideHi:
		return int(r-wideLo) + wideAt
	}
	return -1
}

// hanIndex returns r's index in the Han group's tables, or -1.
func hanIndex(r rune) int {
	switch {
	case r < hanALo:
		return -1
	case r <= hanAHi:
		return int(r-hanALo) + hanAAt
	case r < hanLo:
		return -1
	case r <= hanHi:
		return int(r-hanLo) + hanAt
	}
	return -1
}

// groupRunes returns the code points of a group in index order: the
// inverse of smallIndex or hanIndex.
func groupRunes(han bool) []rune {
	var blocks [][2]rune
	if han {
		blocks = [][2]rune{{hanALo, hanAHi}, {hanLo, hanHi}}
	} else {
		blocks = [][2]rune{{latinLo, latinHi}, {latinExtLo, latinExtHi}, {punctLo, punctHi}, {cjkSymLo, cjkSymHi}, {wideLo, wideHi}}
	}
	var out []rune
	for _, b := range blocks {
		for r := b[0]; r <= b[1]; r++ {
			out = append(out, r)
		}
	}
	return out
}

// decodeRune is utf8.DecodeRuneInString(s[i:]), quicker for the two- and
// three-byte sequences the blocks are written in: every two-byte sequence
// led by C2–DF and every three-byte one led by E1–EC or EE–EF is valid
// when its other bytes are continuation bytes (E0 and ED lead sequences
// that may be overlong or surrogates, which the general decoder sorts out).
func decodeRune(s string, i int) (rune, int) {
	switch c := s[i]; {
	case 0xC2 <= c && c <= 0xDF:
		if i+1 < len(s) && s[i+1]&0xC0 == 0x80 {
			return rune(c&0x1F)<<6 | rune(s[i+1]&0x3F), 2
		}
	case 0xE1 <= c && c <= 0xEF && c != 0xED:
		if i+2 < len(s) && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80 {
			return rune(c&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F), 3
		}
	}
	return utf8.DecodeRuneInString(s[i:])
}

// latinIndex returns the small-group index and width of the code point at
// s[i:] if it is a valid sequence of Latin-1 Supplement, Latin Extended-A
// or -B (lead bytes C2–C9) or Latin Extended Additional (E1 B8–BB), where
// the Vietnamese letters are; otherwise k is -1. It is decodeRune and
// smallIndex in one, for the folding loops' most common case.
func latinIndex(s string, i int) (k, w int) {
	if c := s[i]; c <= 0xC9 {
		if i+1 < len(s) && s[i+1]&0xC0 == 0x80 && c >= 0xC2 {
			if k = int(c-0xC2)<<6 | int(s[i+1]&0x3F); k <= latinHi-latinLo {
				return k + latinBase, 2
			}
		}
	} else if c == 0xE1 && i+2 < len(s) && s[i+1]-0xB8 <= 3 && s[i+2]&0xC0 == 0x80 {
		return latinExtAt + (int(s[i+1]-0xB8)<<6 | int(s[i+2]&0x3F)), 3
	}
	return -1, 0
}
