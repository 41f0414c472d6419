package attribution_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/attribution"
	"github.com/leaktrace/leaktrace/canary"
)

// bigInput is 10,000 orders over 3 platforms, 40 merchants and 8 couriers,
// and 1,000,000 contacts: a courier leaking a third of its orders and the
// rest background, each contact quoting one to three tokens.
func bigInput(orders, contacts int) attribution.Input {
	r := rand.New(rand.NewPCG(1, 2))
	in := attribution.Input{Now: t0.Add(200 * 24 * time.Hour), MinObservation: 30 * 24 * time.Hour}
	add := func(prefix string, n int, kind canary.PartyKind) []string {
		var out []string
		for i := range n {
			name := fmt.Sprintf("%s%d", prefix, i)
			out = append(out, name)
			in.Parties = append(in.Parties, canary.Party{Name: name, Kind: kind})
		}
		return out
	}
	ps, ms, cs := add("P", 3, canary.KindPlatform), add("M", 40, canary.KindMerchant), add("C", 8, canary.KindCourier)
	var id int64
	for i := range orders {
		placed := t0.Add(time.Duration(r.IntN(150*24)) * time.Hour)
		o := canary.Order{Investigation: "big", Ref: fmt.Sprintf("o%05d", i), Platform: ps[r.IntN(3)], Merchant: ms[r.IntN(40)],
			Courier: cs[r.IntN(8)], Payment: canary.PaymentPrepaid, PlacedAt: placed, ShippedAt: placed.Add(24 * time.Hour)}
		for _, f := range []struct {
			kind canary.TokenKind
			who  []string
		}{{canary.TokenEmail, []string{o.Platform, o.Merchant}}, {canary.TokenPhone, []string{o.Platform, o.Merchant, o.Courier}},
			{canary.TokenName, []string{o.Platform, o.Merchant, o.Courier}}, {canary.TokenFact, []string{o.Platform, o.Merchant, o.Courier}}} {
			id++
			t := canary.Token{ID: id, Investigation: "big", Order: o.Ref, Orders: []string{o.Ref}, Kind: f.kind, Key: fmt.Sprint(id), Unique: f.kind == canary.TokenFact}
			for _, p := range f.who {
				t.Exposures = append(t.Exposures, canary.Exposure{Party: p, Quality: canary.QualityFull, ExposedAt: o.ShippedAt})
			}
			o.Tokens = append(o.Tokens, t)
			in.Tokens = append(in.Tokens, t)
		}
		in.Orders = append(in.Orders, o)
	}
	for i := range contacts {
		o := in.Orders[r.IntN(orders)]
		c := canary.Contact{ID: int64(i + 1), Channel: canary.ChannelSMS, ReceivedAt: o.ShippedAt.Add(time.Duration(1+r.IntN(40)) * 24 * time.Hour)}
		for k := range 1 + r.IntN(3) {
			t := o.Tokens[(k+r.IntN(4))%4]
			c.Matches = append(c.Matches, canary.Match{TokenID: t.ID, Kind: t.Kind, How: canary.HowBody})
		}
		in.Contacts = append(in.Contacts, c)
	}
	return in
}

func BenchmarkAttribute10kOrders1MContacts(b *testing.B) {
	in := bigInput(10_000, 1_000_000)
	in.SkipIntervals = os.Getenv("SKIP") != ""
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rep := attribution.Attribute(in)
		if len(rep.Contacts) != 1_000_000 {
			b.Fatalf("contacts=%d", len(rep.Contacts))
		}
	}
}

// matchUniverse is an investigation of 500 orders: 3,000 tokens.
func matchUniverse() *canary.Universe {
	u := &canary.Universe{Investigations: []canary.Investigation{{Name: "vn", Locale: canary.LocaleVietnam, Secret: make([]byte, 32)}},
		Domains: []canary.Domain{{Name: "canary.example"}}}
	r := rand.New(rand.NewPCG(3, 4))
	given := []string{"linh", "lan", "huong", "trang", "ha", "mai", "anh", "thao", "ngoc", "hanh"}
	var id int64
	add := func(kind canary.TokenKind, field, value, key, greet string, unique bool) {
		id++
		u.Tokens = append(u.Tokens, canary.Token{ID: id, Investigation: "vn", Order: "o", Orders: []string{"o"}, Kind: kind,
			Field: field, Value: value, Key: key, GreetKey: greet, Unique: unique})
	}
	for i := range 500 {
		g := fmt.Sprintf("%s%d", given[i%len(given)], i)
		add(canary.TokenEmail, "chat email", g+".tran.abcdefg@canary.example", g+".tran.abcdefg@canary.example", "", false)
		add(canary.TokenPhone, "shipping phone", fmt.Sprintf("+849120%05d", i), fmt.Sprintf("+849120%05d", i), "", false)
		add(canary.TokenName, "shipping name", "Trần Thị "+g, "tran thi "+g, g, false)
		add(canary.TokenFact, "price", "", fmt.Sprintf("VND %d", 100000+1000*r.IntN(500)), "", false)
		add(canary.TokenFact, "order_no", "", fmt.Sprintf("2610%06dvn", i), "", true)
		add(canary.TokenFact, "item", "", fmt.Sprintf("kem chong nang loai %d", i), "", false)
	}
	return u
}

func benchText(size int) string {
	para := "Chào chị Linh7, đơn hàng 2610000007VN (Kem chống nắng loại 7) giá 459.000đ của chị giao không thành công. " +
		"Vui lòng gọi 0912 000 007 hoặc truy cập https://example.com/track?id=123456 để xác nhận địa chỉ trong 24h. " +
		"王女士您好，您购买的隐形眼镜 月抛 2片，金额68.5元，订单号2611011234。Dear customer, your parcel is held. "
	var b strings.Builder
	for b.Len() < size {
		b.WriteString(para)
	}
	return b.String()[:size]
}

func BenchmarkMatch(b *testing.B) {
	m := attribution.NewMatcher(matchUniverse())
	for _, size := range []int{2 << 10, 100 << 10} {
		text := benchText(size)
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for range b.N {
				m.Match(attribution.Observation{Texts: []attribution.Text{{Text: text, How: canary.HowBody}}})
			}
		})
	}
}

// BenchmarkMatchScam is a scam mail as bench/run.sh sends it: a greeting,
// the order's item, price and number, a number to call, then Vietnamese
// filler with diacritics and no digits.
func BenchmarkMatchScam(b *testing.B) {
	m := attribution.NewMatcher(matchUniverse())
	head := "Kính gửi Trần Thị linh7,\r\nĐơn hàng kem chong nang loai 7 giá 107.000đ của bạn chưa thanh toán thành công. Vui lòng gọi 0987 654 321 để được hoàn tiền.\r\n"
	line := "Chúng tôi xin lỗi vì sự bất tiện này. Nếu không xác nhận trong hôm nay, đơn hàng sẽ bị hủy và tiền sẽ không được hoàn lại.\r\n"
	for _, size := range []int{2 << 10, 100 << 10, 4 << 20} {
		var sb strings.Builder
		sb.WriteString(head)
		for sb.Len() < size {
			sb.WriteString(line)
		}
		text := sb.String()
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for range b.N {
				m.Match(attribution.Observation{Texts: []attribution.Text{{Text: text, How: canary.HowBody}}})
			}
		})
	}
}
