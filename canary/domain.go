package canary

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// DomainKey is the form a mail domain is compared in: lower case, no final
// dot, and international names as their ASCII (A-label) form. The same
// domain reaches us in both forms: DNS, DKIM and most senders write
// "xn--bcher-kva.vn", SMTPUTF8 senders and people write "bücher.vn". A
// name IDNA refuses is kept lower-cased, so it still equals itself.
func DomainKey(name string) string {
	name = strings.TrimSuffix(strings.TrimSpace(name), ".")
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			// IDNA reads bytes that are not UTF-8 as U+FFFD: two
			// different names would share a key.
			if utf8.ValidString(name) {
				if a, err := idna.Lookup.ToASCII(name); err == nil {
					return a
				}
			}
			break
		}
	}
	return lower(name)
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

// CheckDomainName reports why mail could not be sent to name, or nil.
func CheckDomainName(name string) error {
	if _, err := idna.Lookup.ToASCII(name); err != nil {
		return err
	}
	return nil
}
