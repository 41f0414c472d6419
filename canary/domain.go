package canary

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	unorm "golang.org/x/text/unicode/norm"

	"github.com/leaktrace/leaktrace/norm"
)

// DNS names are at most 253 bytes in their ASCII form, with labels of at
// most 63 (RFC 1035). No Unicode form of a real name is longer in runes.
const (
	maxNameRunes  = 253
	maxLabelRunes = 63
)

// DomainKey is the form a mail domain is compared in: lower case, no final
// dot, and international names as their ASCII (A-label) form. The same
// domain reaches us in both forms: DNS, DKIM and most senders write
// "xn--bcher-kva.vn", SMTPUTF8 senders and people write "bücher.vn". A
// label IDNA refuses is kept lower-cased, so it still equals itself.
func DomainKey(name string) string {
	name = strings.TrimSuffix(strings.TrimSpace(name), ".")
	// IDNA reads bytes that are not UTF-8 as U+FFFD, so two different
	// names would share a key; and its Punycode step slows sharply on
	// labels longer than any real one, which a sender could write to make
	// every message cost seconds.
	if norm.IsASCII(name) || !utf8.ValidString(name) || !plausibleName(name) {
		return lower(name)
	}
	if a, err := idna.Lookup.ToASCII(name); err == nil {
		return a
	}
	labels := strings.Split(name, ".")
	for i, l := range labels {
		if a, err := idna.Lookup.ToASCII(l); err == nil && !norm.IsASCII(l) {
			labels[i] = a
		} else {
			labels[i] = lower(l)
		}
	}
	return strings.Join(labels, ".")
}

// AddressKey is the form a mail address is compared in: the local part
// lower-cased, the domain as DomainKey gives it.
func AddressKey(addr string) string {
	addr = strings.TrimSpace(addr)
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return lower(addr)
	}
	return lower(addr[:i]) + "@" + DomainKey(addr[i+1:])
}

// CheckDomainName reports why mail could not be sent to name, or nil.
func CheckDomainName(name string) error {
	if !utf8.ValidString(name) {
		return errors.New("not UTF-8")
	}
	if !plausibleName(name) {
		return fmt.Errorf("longer than a domain name can be (%d characters, labels of %d)", maxNameRunes, maxLabelRunes)
	}
	for l := range strings.SplitSeq(name, ".") {
		// IDNA would re-encode such a label into another name.
		if len(l) >= 4 && strings.EqualFold(l[:4], "xn--") && !norm.IsASCII(l) {
			return fmt.Errorf("label %q mixes the ASCII form (xn--) with letters that are not ASCII", l)
		}
	}
	a, err := idna.Lookup.ToASCII(name)
	if err != nil {
		return err
	}
	// IDNA's lookup profile does not hold the ASCII form to DNS's lengths,
	// and a long Unicode label grows past them.
	if len(a) > maxNameRunes {
		return fmt.Errorf("its ASCII form %s is %d characters, more than DNS allows (%d)", a, len(a), maxNameRunes)
	}
	for l := range strings.SplitSeq(a, ".") {
		if len(l) > maxLabelRunes {
			return fmt.Errorf("its ASCII form has a label of %d characters (%s), more than DNS allows (%d)", len(l), l, maxLabelRunes)
		}
	}
	return nil
}

// AddressText is text made ready to find addresses at international
// domains in: compatibility forms folded (full-width "＠" and "．"),
// ideographic full stops read as dots, and invisible characters (zero-width
// spaces, soft hyphens) dropped, while accents are kept, unlike the
// folding that finds ASCII ones.
func AddressText(s string) string {
	s = unorm.NFKC.String(s)
	return strings.Map(func(r rune) rune {
		switch {
		case r == '。' || r == '｡':
			return '.'
		case unicode.Is(unicode.Cf, r):
			return -1
		}
		return r
	}, s)
}

// QuotedDomain is the domain of an address found in running text. Chinese,
// Japanese and Korean are written without spaces, so such letters right
// after a domain in another script are the text going on ("…@bücher.vn获取
// 优惠"), not the domain; a domain written wholly in them is kept.
func QuotedDomain(d string) string {
	other := false
	for i, r := range d {
		if unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) {
			if other {
				return strings.TrimRight(d[:i], ".-")
			}
			continue
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			other = true
		}
	}
	return d
}

func plausibleName(name string) bool {
	if len(name) > maxNameRunes && utf8.RuneCountInString(name) > maxNameRunes {
		return false
	}
	for l := range strings.SplitSeq(name, ".") {
		if len(l) > maxLabelRunes && utf8.RuneCountInString(l) > maxLabelRunes {
			return false
		}
	}
	return true
}

// lower lower-cases s, leaving bytes that are not UTF-8 as they are
// (strings.ToLower would turn each into U+FFFD).
func lower(s string) string {
	if utf8.ValidString(s) {
		return strings.ToLower(s)
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
