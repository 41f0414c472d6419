package ref

// ScanText is the frozen newScanText for norm's tests: the folded text and,
// for each of its bytes, the range of the original it came from.
func ScanText(text string) (s string, start, end []int) {
	t := newScanText(text)
	return t.s, t.start, t.end
}
