package norm_test

import (
	"strings"
	"testing"

	"github.com/leaktrace/leaktrace/norm"
)

func TestPriceKey(t *testing.T) {
	tests := []struct {
		p    norm.Price
		want string
	}{
		{norm.Price{Amount: 6850, Currency: "CNY"}, "CNY 68.50"},
		{norm.Price{Amount: 68500, Currency: "VND"}, "VND 68500"},
		{norm.Price{Amount: 1299, Currency: "USD"}, "USD 12.99"},
		{norm.Price{Amount: 5, Currency: "EUR"}, "EUR 0.05"},
		{norm.Price{Amount: -1299, Currency: "USD"}, "USD -12.99"},
		{norm.Price{Amount: 0, Currency: "VND"}, "VND 0"},
	}
	for _, tt := range tests {
		if got := tt.p.Key(); got != tt.want {
			t.Errorf("%+v.Key()=%q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestParsePrice(t *testing.T) {
	tests := []struct {
		in      string
		want    string // Key of the price
		wantErr string // substring of the error; "" for none
	}{
		{"68.50 CNY", "CNY 68.50", ""},
		{"¥68.50", "CNY 68.50", ""},
		{"68.5元", "CNY 68.50", ""},
		{"68.50元", "CNY 68.50", ""},
		{"68.500元", "CNY 68.50", ""}, // "." is a decimal point for CNY
		{"￥68.5", "CNY 68.50", ""},
		{"  ６８.５元 ", "CNY 68.50", ""},
		{"RMB 68.50", "CNY 68.50", ""},
		{"68元5角", "CNY 68.50", ""},
		{"68元5角3分", "CNY 68.53", ""},
		{"1.5万元", "CNY 15000.00", ""},
		{"1,250元", "CNY 1250.00", ""},
		{"68.500đ", "VND 68500", ""},
		{"312.000d", "VND 312000", ""},
		{"50kd", "VND 50000", ""},
		{"5d", "", "d is read"},
		{"68,500 VND", "VND 68500", ""},
		{"68500₫", "VND 68500", ""},
		{"68.500 đ", "VND 68500", ""},
		{"68.500 VNĐ", "VND 68500", ""},
		{"68.500 vnd", "VND 68500", ""},
		{"VND 68,500", "VND 68500", ""},
		{"68.500 đồng", "VND 68500", ""},
		{"68.500 dong", "VND 68500", ""},
		{"1.250.000đ", "VND 1250000", ""},
		{"1,250,000 VND", "VND 1250000", ""},
		{"1.250.000,00 đ", "VND 1250000", ""},
		{"68kđ", "VND 68000", ""},
		{"68K đ", "VND 68000", ""},
		{"68 nghìn", "VND 68000", ""},
		{"68 ngàn đồng", "VND 68000", ""},
		{"1,5 triệu", "VND 1500000", ""},
		{"$12.99", "USD 12.99", ""},
		{"12.99 USD", "USD 12.99", ""},
		{"US$12.99", "USD 12.99", ""},
		{"1,299.00 USD", "USD 1299.00", ""},
		{"1.250 USD", "USD 1.25", ""}, // "." is a decimal point for USD
		{"12,99 €", "EUR 12.99", ""},
		{"1.299,00 €", "EUR 1299.00", ""},
		{"€5", "EUR 5.00", ""},
		{"68", "", "no currency"},
		{"68.50", "", "no currency"},
		{"68k", "", "k means a thousand đồng only"},
		{"68K", "", "k means a thousand đồng only"},
		{"", "", "not a price"},
		{"abc", "", "not a price"},
		{"68.5đ", "", "finer than the smallest unit of VND"},
		{"12.999 USD", "", "finer than the smallest unit of USD"},
		{"1,2,3 USD", "", "grouped irregularly"},
		{"1.2,3.4 USD", "", "both thousands and decimals"},
		{"68k USD", "", "only for đồng"},
		{"68万 VND", "", "万 is read only before 元"},
		{"99999999999999999999đ", "", "too many digits"},
		{"68.5元5角", "", "角 follows only a whole number"},
	}
	for _, tt := range tests {
		got, err := norm.ParsePrice(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ParsePrice(%q) error %v", tt.in, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ParsePrice(%q) error %v, want one containing %q", tt.in, err, tt.wantErr)
		case tt.wantErr == "" && got.Key() != tt.want:
			t.Errorf("ParsePrice(%q)=%q, want %q", tt.in, got.Key(), tt.want)
		}
	}
}

func TestFindPrices(t *testing.T) {
	tests := []struct {
		text string
		want []string // "Text=Key"
	}{
		{"您购买的隐形眼镜 月抛 2片，金额68.5元", []string{"68.5元=CNY 68.50"}},
		{"đơn hàng 68.500đ của chị", []string{"68.500đ=VND 68500"}},
		{"your order of $12.99.", []string{"$12.99=USD 12.99"}},
		{"Tổng：￥６８．５０，谢谢", []string{"￥６８．５０=CNY 68.50"}},
		{"2 đơn hàng, tổng 1.250.000đ, phí 30k đ, còn 68 nghìn", []string{
			"1.250.000đ=VND 1250000", "30k đ=VND 30000", "68 nghìn=VND 68000",
		}},
		{"Tong 68,500 VND, 68.500 dong", []string{"68,500 VND=VND 68500", "68.500 dong=VND 68500"}},
		{"退款68元5角，运费RMB 6.00", []string{"68元5角=CNY 68.50", "RMB 6.00=CNY 6.00"}},
		{"refund of 1,299.00 USD or US$12.99", []string{"1,299.00 USD=USD 1299.00", "US$12.99=USD 12.99"}},
		// Decomposed Vietnamese (NFD) reads the same.
		{"68.500 \u0111o\u0302\u0300ng", []string{"68.500 \u0111o\u0302\u0300ng=VND 68500"}},
		// No currency mark, or a mark that is really a word.
		{"2 đơn hàng, 3 đồ chơi, 68.500", nil},
		{"v1.68元 DH68đ 68đơn 68k", nil},
		{"1.2.3,4đ 68.5đ", nil},
		{"\xff68.5元\xfe", []string{"68.5元=CNY 68.50"}},
		{"", nil},
	}
	for _, tt := range tests {
		got := norm.FindPrices(tt.text)
		var keys []string
		for _, m := range got {
			if m.Text != tt.text[m.Start:m.End] {
				t.Errorf("FindPrices(%q): Text=%q, want %q", tt.text, m.Text, tt.text[m.Start:m.End])
			}
			keys = append(keys, m.Text+"="+m.Price.Key())
		}
		if strings.Join(keys, "|") != strings.Join(tt.want, "|") {
			t.Errorf("FindPrices(%q)=%q, want %q", tt.text, keys, tt.want)
		}
	}
}

func FuzzFindPrices(f *testing.F) {
	for _, s := range append(readLines(f, "prices.txt"), readFile(f, "mixed.txt")) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		end := 0
		for _, m := range norm.FindPrices(text) {
			if m.Start < end || m.Start >= m.End || m.End > len(text) {
				t.Fatalf("FindPrices(%q): mention %+v out of order or bounds", text, m)
			}
			end = m.End
			if m.Text != text[m.Start:m.End] {
				t.Fatalf("FindPrices(%q): Text=%q, want %q", text, m.Text, text[m.Start:m.End])
			}
			// What FindPrices reads, ParsePrice reads the same way, and
			// a Key parses back to its price.
			p, err := norm.ParsePrice(m.Text)
			if err != nil || p != m.Price {
				t.Fatalf("ParsePrice(%q)=%+v, %v, want %+v", m.Text, p, err, m.Price)
			}
			if m.Price.Amount < 1e15 {
				if p, err := norm.ParsePrice(m.Price.Key()); err != nil || p != m.Price {
					t.Fatalf("ParsePrice(%q)=%+v, %v, want %+v", m.Price.Key(), p, err, m.Price)
				}
			}
		}
	})
}
