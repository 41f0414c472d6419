package canary

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// tagAlphabet has no look-alikes (0/o, 1/l/i) so a person copying a token
// from paper or a screenshot cannot turn it into another valid one.
const tagAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

// Email tags carry nonceBits random bits and checkBits of HMAC over the
// whole local part, so mail to a guessed or mistyped local part can be told
// from mail to one we issued even without the database row.
const (
	nonceBits = 20
	checkBits = 14
	tagLen    = 7 // 31^7 > 2^34
)

// NewSecret returns a fresh 256-bit investigation secret.
func NewSecret(rnd io.Reader) ([]byte, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return nil, fmt.Errorf("read random: %w", err)
	}
	return b, nil
}

// EmailLocalPart returns a local part such as "linh.tran.k7q2mxa": a readable
// prefix followed by a tag of random nonce and HMAC check.
func EmailLocalPart(secret []byte, prefix string, rnd io.Reader) (string, error) {
	var b [4]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	nonce := binary.BigEndian.Uint32(b[:]) & (1<<nonceBits - 1)
	return prefix + "." + encodeTag(uint64(nonce)<<checkBits|uint64(emailCheck(secret, prefix, nonce))), nil
}

// CheckLocalPart reports whether local carries a valid check for secret:
// true means the investigation issued it (or someone holds its secret).
func CheckLocalPart(secret []byte, local string) bool {
	local = strings.ToLower(local)
	i := strings.LastIndexByte(local, '.')
	if i < 0 {
		return false
	}
	v, ok := decodeTag(local[i+1:])
	if !ok {
		return false
	}
	nonce := uint32(v >> checkBits)
	if nonce >= 1<<nonceBits {
		return false
	}
	return uint32(v&(1<<checkBits-1)) == emailCheck(secret, local[:i], nonce)
}

func emailCheck(secret []byte, prefix string, nonce uint32) uint32 {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "leaktrace email v1\x00%s\x00%d", prefix, nonce)
	sum := m.Sum(nil)
	return binary.BigEndian.Uint32(sum[:4]) >> (32 - checkBits)
}

func encodeTag(v uint64) string {
	b := make([]byte, tagLen)
	for i := tagLen - 1; i >= 0; i-- {
		b[i] = tagAlphabet[v%uint64(len(tagAlphabet))]
		v /= uint64(len(tagAlphabet))
	}
	return string(b)
}

func decodeTag(s string) (uint64, bool) {
	if len(s) != tagLen {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		j := strings.IndexByte(tagAlphabet, s[i])
		if j < 0 {
			return 0, false
		}
		v = v*uint64(len(tagAlphabet)) + uint64(j)
	}
	return v, true
}

// RandomCode returns n characters from the look-alike-free alphabet with at
// least one digit and one letter, so it reads as a code, not a word.
func RandomCode(n int, rnd io.Reader) (string, error) {
	if n < 2 {
		// One character cannot be both a digit and a letter: drawing
		// would never end.
		return "", Invalidf("code length %d: at least 2", n)
	}
	for {
		out := make([]byte, n)
		digit, letter := false, false
		for i := range out {
			j, err := pick(rnd, len(tagAlphabet))
			if err != nil {
				return "", err
			}
			out[i] = tagAlphabet[j]
			if out[i] <= '9' {
				digit = true
			} else {
				letter = true
			}
		}
		if digit && letter {
			return string(out), nil
		}
	}
}

// SplitAddress splits an address into its lower-cased local part and domain.
func SplitAddress(addr string) (local, domain string, ok bool) {
	addr = strings.ToLower(strings.TrimSpace(addr))
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || i == len(addr)-1 {
		return "", "", false
	}
	return addr[:i], addr[i+1:], true
}
