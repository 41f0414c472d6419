package main

import (
	"io"
	"slices"
	"testing"
)

func TestInterspersed(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"lt", "investigation", "new", "q4", "--locale", "vi-VN"}, []string{"lt", "investigation", "new", "--locale", "vi-VN", "--", "q4"}},
		{[]string{"lt", "--db", "x.db", "attribute", "--json"}, []string{"lt", "--json", "--db", "x.db", "attribute"}},
		{[]string{"lt", "orders", "export", "--json", "--investigation", "q4"}, []string{"lt", "--json", "orders", "export", "--investigation", "q4"}},
		{[]string{"lt", "contact", "mark", "5", "scam", "--why", "it is"}, []string{"lt", "contact", "mark", "--why", "it is", "--", "5", "scam"}},
		{[]string{"lt", "order", "placed", "o-1", "--at=2026-11-01", "--fact", "price=1$"}, []string{"lt", "order", "placed", "--at=2026-11-01", "--fact", "price=1$", "--", "o-1"}},
		{[]string{"lt", "serve", "--smtp", ":25"}, []string{"lt", "serve", "--smtp", ":25"}},
		{[]string{"lt", "demo"}, []string{"lt", "demo"}},
	} {
		if got := interspersed(app, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("interspersed(%q)=%q, want %q", tc.in, got, tc.want)
		}
	}
}
