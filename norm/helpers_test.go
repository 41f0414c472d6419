package norm_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readLines returns the non-empty lines of testdata/name; fuzz targets use
// them as seeds so the corpus lives in testdata next to the crashers.
func readLines(tb testing.TB, name string) []string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("read seeds: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
