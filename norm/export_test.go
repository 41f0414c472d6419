package norm

// FoldSlow is Fold without its ASCII fast path, for tests.
func FoldSlow(s string) string { return foldFull(s) }

// TestdataLines is testdataLines, for the external tests.
var TestdataLines = testdataLines
