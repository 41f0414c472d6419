package sqlite_test

import (
	"testing"

	"github.com/leaktrace/leaktrace/canary"
)

// A canary domain must be one mail can be sent to: every email token of
// every order is issued at it.
func TestAddDomainRefusesWhatMailCannotReach(t *testing.T) {
	db := MustOpenDB(t)
	for _, tc := range []struct {
		name string
		plus bool
		ok   bool
	}{
		{"canary.example", false, true},
		{"Other.Example.", false, true},
		{"bücher.example", false, true},
		{"bad\xff.vn", false, false},
		{"a_b.example", false, false},
		{"nodot", false, false},
		{"me@gmail.example", true, true},
		{"me@gm\xffail.example", true, false},
	} {
		err := db.AddDomain(t.Context(), &canary.Domain{Name: tc.name, Plus: tc.plus})
		if (err == nil) != tc.ok {
			t.Errorf("AddDomain(%q, plus=%v) err=%v, want ok=%v", tc.name, tc.plus, err, tc.ok)
		}
	}
}
