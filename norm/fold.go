package norm

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	unorm "golang.org/x/text/unicode/norm"
)

// Fold returns the matching key for s: NFKC (so full-width ＡＢＣ１２３ reads
// as ABC123), lower case, diacritics removed (Vietnamese tones and marks
// included, and đ read as d because it has no decomposition), invisible
// format and control characters dropped, every run of white space made one
// ASCII space, and the ends trimmed. CJK text is kept as it is. Invalid UTF-8
// bytes become U+FFFD. Fold is idempotent.
//
//	Fold("Chị  Lình") == "chi linh"
//	Fold("Trần Thị Đào") == "tran thi dao"
//	Fold("ＬＩＮＨ") == "linh"
func Fold(s string) string {
	if IsASCII(s) {
		return foldASCII(s)
	}
	if f, ok := foldTabled(s); ok {
		return f
	}
	return foldFull(s)
}

func foldFull(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = unorm.NFKC.String(s)
	// A Caser keeps state between calls, so each call gets its own.
	s = cases.Lower(language.Und).String(s)
	s = unorm.NFD.String(s)

	var b strings.Builder
	b.Grow(len(s))
	pendingSpace := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			pendingSpace = b.Len() > 0
			continue
		case unicode.Is(unicode.Mn, r),
			// Zero-width spaces, joiners, soft hyphens and bidi marks
			// are invisible to a reader, so they must not make two
			// keys differ.
			unicode.Is(unicode.Cf, r),
			unicode.Is(unicode.Cc, r):
			continue
		case r == 'đ':
			r = 'd'
		}
		if pendingSpace {
			b.WriteByte(' ')
			pendingSpace = false
		}
		b.WriteRune(r)
	}
	return unorm.NFC.String(b.String())
}

// IsASCII reports whether s is all ASCII, where folding and IDNA change
// nothing but case.
func IsASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// foldASCII is Fold for ASCII text, where normalisation changes nothing:
// most mail is ASCII, and Fold runs on every text matched.
func foldASCII(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	pendingSpace := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || ('\t' <= c && c <= '\r'):
			pendingSpace = b.Len() > 0
			continue
		case c < 0x20 || c == 0x7f:
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if pendingSpace {
			b.WriteByte(' ')
			pendingSpace = false
		}
		b.WriteByte(c)
	}
	return b.String()
}
