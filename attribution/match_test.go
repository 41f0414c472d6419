package attribution_test

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/leaktrace/leaktrace/attribution"
	"github.com/leaktrace/leaktrace/canary"
)

// universe is a small world: one Vietnamese and one Chinese investigation.
func universe() *canary.Universe {
	t := func(id int64, inv string, kind canary.TokenKind, field, value, key, greet string, unique bool) canary.Token {
		return canary.Token{ID: id, Investigation: inv, Order: "o", Orders: []string{"o"}, Kind: kind, Field: field,
			Value: value, Key: key, GreetKey: greet, Unique: unique,
			Exposures: []canary.Exposure{{Party: "P", Quality: canary.QualityFull, ExposedAt: t0}}}
	}
	return &canary.Universe{
		Investigations: []canary.Investigation{{Name: "vn", Locale: canary.LocaleVietnam, Secret: make([]byte, 32)},
			{Name: "cn", Locale: canary.LocaleChina, Secret: make([]byte, 32)}},
		// "bücher.vn" as an older database holds it, before domains were
		// kept in their ASCII form.
		Domains: []canary.Domain{{Name: "canary.example"}, {Name: "me@gmail.com", Plus: true}, {Name: "bücher.vn"}},
		Pool:    []canary.Phone{{E164: "+84912345678"}, {E164: "+84912000999"}},
		Tokens: []canary.Token{
			t(1, "vn", canary.TokenEmail, "account email", "linh.tran.k7q2mxa@canary.example", "linh.tran.k7q2mxa@canary.example", "", false),
			t(2, "vn", canary.TokenPhone, "shipping phone", "+84912345678", "+84912345678", "", false),
			t(3, "vn", canary.TokenName, "shipping name", "Trần Thị Lình", "tran thi linh", "linh", false),
			t(4, "vn", canary.TokenAddress, "shipping address", "12 phố Huế, Phòng 4K7Q", "4k7q", "", false),
			t(5, "vn", canary.TokenFact, "price", "68.500đ", "VND 68500", "", false),
			t(6, "vn", canary.TokenFact, "order_no", "2610 1200 01VN", "2610120001vn", "", true),
			t(7, "vn", canary.TokenFact, "item", "Kem chống nắng Anessa", "kem chong nang anessa", "", false),
			t(8, "cn", canary.TokenName, "shipping name", "王芳", "王芳", "王", false),
			t(9, "cn", canary.TokenFact, "price", "68.50 CNY", "CNY 68.50", "", false),
			t(10, "cn", canary.TokenFact, "item", "隐形眼镜 月抛 2片", "隐形眼镜 月抛 2片", "", false),
			t(11, "vn", canary.TokenFact, "placed_at", "2026-11-01 10:05", "2026-11-01 10:05", "", false),
			t(12, "vn", canary.TokenEmail, "chat email", "me+hoa.le.abcdefg@gmail.com", "me+hoa.le.abcdefg@gmail.com", "", false),
			// Greeted as "Trần", the family name of token 3.
			t(13, "vn", canary.TokenName, "account name", "Lê Văn Trần", "le van tran", "tran", false),
			t(14, "vn", canary.TokenEmail, "account email", "an.vo.x3n8pqa@bücher.vn", "an.vo.x3n8pqa@bücher.vn", "", false),
		},
	}
}

type found struct {
	id      int64
	how     string
	partial bool
}

func matchesOf(r attribution.Result) []found {
	var out []found
	for _, m := range r.Matches {
		out = append(out, found{m.TokenID, m.How, m.Partial})
	}
	return out
}

func TestMatcher(t *testing.T) {
	m := attribution.NewMatcher(universe())
	body := func(s string) attribution.Observation {
		return attribution.Observation{Texts: []attribution.Text{{Text: s, How: canary.HowBody}}}
	}
	to := func(v, how string) attribution.Observation {
		return attribution.Observation{Recipients: []attribution.Addressed{{Value: v, How: how}}}
	}
	for _, tc := range []struct {
		name     string
		obs      attribution.Observation
		want     []found
		unissued []string
	}{
		{"recipient in any case", to("Linh.Tran.K7Q2MXA@Canary.Example", canary.HowRecipient), []found{{1, "recipient", false}}, nil},
		{"copied into Cc", to("linh.tran.k7q2mxa@canary.example", canary.HowHeader), []found{{1, "header", false}}, nil},
		{"address in the body", body("write to <linh.tran.k7q2mxa@canary.example> now"), []found{{1, "body", false}}, nil},
		{"unissued local part", to("admin@canary.example", canary.HowRecipient), nil, []string{"admin@canary.example"}},
		{"stripped plus tag", to("me@gmail.com", canary.HowRecipient), nil, []string{"me@gmail.com"}},
		{"plus tag kept", to("ME+hoa.le.abcdefg@gmail.com", canary.HowRecipient), []found{{12, "recipient", false}}, nil},
		{"other domains are nobody's", to("someone@example.org", canary.HowRecipient), nil, nil},
		{"international domain in its ASCII form", to("an.vo.x3n8pqa@XN--BCHER-KVA.vn", canary.HowRecipient), []found{{14, "recipient", false}}, nil},
		{"international domain as written", to("An.Vo.X3N8PQA@Bücher.VN", canary.HowRecipient), []found{{14, "recipient", false}}, nil},
		{"international domain quoted in a body", body("liên hệ an.vo.x3n8pqa@bücher.vn nhé"), []found{{14, "body", false}}, nil},
		{"international domain quoted in Chinese", body("请联系an.vo.x3n8pqa@bücher.vn获取优惠"), []found{{14, "body", false}}, nil},
		{"international domain quoted in its ASCII form", body("gửi về an.vo.x3n8pqa@xn--bcher-kva.vn"), []found{{14, "body", false}}, nil},
		{"international domain in full-width dots", body("liên hệ an.vo.x3n8pqa＠bücher．vn nhé"), []found{{14, "body", false}}, nil},
		{"international domain split by an invisible space", body("liên hệ an.vo.x3n8pqa@bü\u200bcher。vn nhé"), []found{{14, "body", false}}, nil},
		{"unissued at an international domain", to("admin@xn--bcher-kva.vn", canary.HowRecipient), nil, []string{"admin@xn--bcher-kva.vn"}},
		{"number texted, local form", to("0912 345 678", canary.HowRecipient), []found{{2, "recipient", false}}, nil},
		{"pool number with no token", to("0912.000.999", canary.HowRecipient), nil, []string{"+84912000999"}},
		{"number in text, dotted", body("Goi 0912.345.678 ngay"), []found{{2, "body", false}}, nil},
		{"number in text, full-width", body("电话 ０９１２３４５６７８"), []found{{2, "body", false}}, nil},
		{"number in text, +84", body("call +84 912 345 678"), []found{{2, "body", false}}, nil},
		{"masked number is partial", body("SĐT 0912***678 của chị"), []found{{2, "body", true}}, nil},
		{"full name without diacritics", body("Kinh gui TRAN THI LINH"), []found{{3, "body", false}}, nil},
		{"a greeted full name is not its first word's greeting", body("Kính gửi Trần Thị Lình"), []found{{3, "body", false}}, nil},
		{"the same word greeted alone", body("Kính gửi anh Trần"), []found{{13, "greeting", false}}, nil},
		{"vietnamese greeting, other tone", body("Chào chị Lĩnh, đơn hàng của chị"), []found{{3, "greeting", false}}, nil},
		{"chained greeting", body("xin chao chi linh oi"), []found{{3, "greeting", false}}, nil},
		{"chinese title after surname", body("王女士您好，我是客服"), []found{{8, "greeting", false}}, nil},
		{"a look-alike surname is another key", body("汪女士您好"), nil, nil},
		{"address code on an envelope", to("Trần Thị Lình\n12 phố Huế, P. 4k7q", canary.HowRecipient), []found{{3, "envelope", false}, {4, "envelope", false}}, nil},
		{"price, other spelling", body("đơn hàng 68,500 VND của chị"), []found{{5, "fact", false}}, nil},
		{"yuan price", body("金额68.5元"), []found{{9, "fact", false}}, nil},
		{"order number with spaces", body("Ma don 2610 1200 01VN bi huy"), []found{{6, "fact", false}}, nil},
		{"order number inside a longer number is not it", body("ref 92610120001VN7"), nil, nil},
		{"item without diacritics", body("KEM CHONG NANG ANESSA chinh hang"), []found{{7, "fact", false}}, nil},
		{"chinese item without spaces", body("您购买的隐形眼镜月抛2片有质量问题"), []found{{10, "fact", false}}, nil},
		{"placed time quoted", body("don dat luc 10:05 ngay 01/11"), []found{{11, "fact", false}}, nil},
		{"time alone is not enough", body("goi lai luc 10:05"), nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := m.Match(tc.obs)
			if got := matchesOf(r); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("matches=%+v, want %+v", got, tc.want)
			}
			if !slices.Equal(r.Unissued, tc.unissued) {
				t.Fatalf("unissued=%q, want %q", r.Unissued, tc.unissued)
			}
		})
	}
}

// A greeted name that several investigations use is only a partial match
// unless other matches say which investigation the contact is about.
func TestAmbiguousGreetingIsPartial(t *testing.T) {
	u := universe()
	other := u.Tokens[2]
	other.ID, other.Investigation, other.Key = 99, "cn", "le thi linh"
	u.Tokens = append(u.Tokens, other)
	m := attribution.NewMatcher(u)
	r := m.Match(attribution.Observation{Texts: []attribution.Text{{Text: "chào chị Linh", How: canary.HowBody}}})
	for _, x := range r.Matches {
		if !x.Partial {
			t.Fatalf("greeting shared by two investigations matched token %d fully", x.TokenID)
		}
	}
	r = m.Match(attribution.Observation{
		Recipients: []attribution.Addressed{{Value: "0912345678", How: canary.HowRecipient}},
		Texts:      []attribution.Text{{Text: "chào chị Linh", How: canary.HowBody}}})
	want := []found{{2, "recipient", false}, {3, "greeting", false}, {99, "greeting", true}}
	if got := matchesOf(r); !reflect.DeepEqual(got, want) {
		t.Fatalf("matches=%+v, want %+v", got, want)
	}
}

func FuzzMatch(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/match/*.txt")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			f.Add(line, "0912345678")
		}
	}
	m := attribution.NewMatcher(universe())
	ids := map[int64]bool{}
	for _, t := range universe().Tokens {
		ids[t.ID] = true
	}
	f.Fuzz(func(t *testing.T, text, to string) {
		obs := attribution.Observation{Recipients: []attribution.Addressed{{Value: to, How: canary.HowRecipient}},
			Texts: []attribution.Text{{Text: text, How: canary.HowBody}}}
		a, b := m.Match(obs), m.Match(obs)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("Match is not deterministic")
		}
		for _, x := range a.Matches {
			if !ids[x.TokenID] {
				t.Fatalf("match names token %d, which does not exist", x.TokenID)
			}
		}
	})
}
