package norm_test

import (
	"testing"

	"github.com/leaktrace/leaktrace/norm"
)

// readLines returns the non-empty lines of testdata/name; fuzz targets use
// them as seeds so the corpus lives in testdata next to the crashers.
func readLines(tb testing.TB, name string) []string { return norm.TestdataLines(tb, name) }
