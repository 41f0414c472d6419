package norm_test

import (
	"testing"
	"unicode/utf8"

	"github.com/leaktrace/leaktrace/norm"
)

func TestFold(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"Chị  Lình", "chi linh"},
		{"chi linh", "chi linh"},
		{"Trần Thị Đào", "tran thi dao"},
		{"ĐẶNG VĂN ĐỨC", "dang van duc"},
		{"王女士", "王女士"},
		{"ＬＩＮＨ", "linh"},
		{"ＡＢＣ１２３", "abc123"},
		{"Nguyễn\u3000Văn", "nguyen van"},
		{"Nguyễn\u00a0\t\n Văn", "nguyen van"},
		{"  Chị Linh  ", "chi linh"},
		{"王\u3000女士", "王 女士"},
		{"请拨打，谢谢", "请拨打,谢谢"},
		{"Ngo\u0323c", "ngoc"},           // decomposed input
		{"Ng\u1ecdc", "ngoc"},            // precomposed input
		{"zero\u200bwidth", "zerowidth"}, // invisible characters do not split a key
		{"soft\u00adhyphen", "softhyphen"},
		{"", ""},
		{" \t\n\u3000", ""},
		{"a\xffb", "a\ufffdb"},
		{"\xc3", "\ufffd"},
	}
	for _, tt := range tests {
		if got := norm.Fold(tt.in); got != tt.want {
			t.Errorf("Fold(%q)=%q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFoldIdempotent(t *testing.T) {
	for _, s := range readLines(t, "fold.txt") {
		once := norm.Fold(s)
		if twice := norm.Fold(once); twice != once {
			t.Errorf("Fold(Fold(%q))=%q, want %q", s, twice, once)
		}
	}
}

func FuzzFold(f *testing.F) {
	for _, s := range readLines(f, "fold.txt") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := norm.Fold(s)
		if !utf8.ValidString(once) {
			t.Fatalf("Fold(%q)=%q, not valid UTF-8", s, once)
		}
		if twice := norm.Fold(once); twice != once {
			t.Fatalf("Fold(Fold(%q))=%q, want %q", s, twice, once)
		}
	})
}

// The ASCII fast path must agree with the full fold on every ASCII string.
func FuzzFoldASCII(f *testing.F) {
	f.Add("Hello  World\t\x01X\x7f ")
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		for i := range b {
			b[i] &= 0x7f
		}
		in := string(b)
		if got, want := norm.Fold(in), norm.FoldSlow(in); got != want {
			t.Fatalf("Fold(%q)=%q, full fold %q", in, got, want)
		}
	})
}
