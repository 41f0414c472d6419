package norm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdataLines returns the non-empty lines of testdata/name.
func testdataLines(tb testing.TB, name string) []string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("read %s: %v", name, err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// corpusSeeds are the test corpora of the package, line by line and
// mixed.txt whole, for the differential tests of the fast paths.
func corpusSeeds(tb testing.TB) []string {
	tb.Helper()
	var out []string
	for _, name := range []string{"fold.txt", "mixed.txt", "phones.txt", "prices.txt", "datetimes.txt"} {
		out = append(out, testdataLines(tb, name)...)
	}
	return append(out, strings.Join(testdataLines(tb, "mixed.txt"), "\n"))
}

// foldSeeds are corpusSeeds and texts that the fast path must give up on
// or tread carefully in.
func foldSeeds(tb testing.TB) []string {
	return append(corpusSeeds(tb),
		"Kính gửi Trần Thị linh7,\r\nĐơn hàng kem chong nang loai 7 giá 107.000đ",
		"王女士您好，您购买的隐形眼镜 月抛 2片，金额68.5元，订单号2611011234。",
		"Nguye\u0302\u0303n Văn",        // decomposed Vietnamese
		"ΌΣΟΣ Σ aΣ ΣA",                  // final sigma
		"ｶﾞｷﾞ ｶ\uff9e",                  // halfwidth katakana with voiced marks
		"가\u11a8 \u1100\u1161",          // Hangul jamo
		"a\xffb\xc3 \xe1\xbb\xff",       // invalid UTF-8
		"¨a ´ ¸ ‗ ‾ \u00a0\u2002\u3000", // spacing marks fold to space and a mark
		"İstanbul ǅemal ẞ ß ﬁ ½ ① Ⅻ ㎏",
		"\u200b\u200dzero\u00adwidth\u2060",
		"😀 hi 👍🏽 ✅",
	)
}
