package norm

import "strings"

// runeTable holds what a per-code-point function gives for every code
// point of a block group (see blocks.go), indexed by smallIndex or
// hanIndex. Tables are built once and never written again, so they are
// safe for concurrent use.
type runeTable struct {
	entries []runeEntry
	blob    string // the texts of entryText entries, one after another
}

// runeEntry is one code point's entry: a kind in the low three bits; for
// entryByte the byte above them; for entryText the length and offset of its
// text in the table's blob.
type runeEntry uint32

const (
	entryUnknown = iota // not tabled: take the general path
	entryDrop           // gives nothing
	entrySpace          // gives white space (Fold only)
	entrySame           // gives the code point itself, as written
	entryByte           // gives one byte (most letters fold to one ASCII letter)
	entryText           // gives a text from the blob
)

const (
	entryKindBits = 3
	entryLenBits  = 8
	maxEntryLen   = 1<<entryLenBits - 1
	maxBlobLen    = 1<<(32-entryKindBits-entryLenBits) - 1
)

func (e runeEntry) kind() int { return int(e & (1<<entryKindBits - 1)) }

// byte returns the byte of an entryByte entry.
func (e runeEntry) byte() byte { return byte(e >> entryKindBits) }

// text returns the text of an entryText entry.
func (t *runeTable) text(e runeEntry) string {
	n := int(e>>entryKindBits) & maxEntryLen
	off := int(e >> (entryKindBits + entryLenBits))
	return t.blob[off : off+n]
}

// buildRuneTable tables class over runes (from groupRunes). class returns
// a kind and, for entryText, the text; a text equal to the code point is
// stored as entrySame, one of one byte as entryByte, and one too long to
// encode as entryUnknown.
func buildRuneTable(runes []rune, class func(r rune) (int, string)) *runeTable {
	t := &runeTable{entries: make([]runeEntry, len(runes))}
	var blob strings.Builder
	seen := map[string]int{} // texts repeat (every a with a mark is "a"), so each is stored once
	for i, r := range runes {
		kind, text := class(r)
		if kind == entryText && text == string(r) {
			kind = entrySame
		}
		if kind == entryText && len(text) == 1 {
			t.entries[i] = runeEntry(entryByte | int(text[0])<<entryKindBits)
			continue
		}
		if kind != entryText {
			t.entries[i] = runeEntry(kind)
			continue
		}
		off, ok := seen[text]
		if !ok {
			off = blob.Len()
			if len(text) == 0 || len(text) > maxEntryLen || off+len(text) > maxBlobLen {
				continue // entryUnknown
			}
			blob.WriteString(text)
			seen[text] = off
		}
		t.entries[i] = runeEntry(entryText | len(text)<<entryKindBits | off<<(entryKindBits+entryLenBits))
	}
	t.blob = blob.String()
	return t
}
