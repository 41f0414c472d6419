package norm_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/leaktrace/leaktrace/norm"
)

// benchTexts are scam mails of 2 KB and 100 KB in Vietnamese and in
// Chinese: a head with a name, a price, an order number and a phone number,
// then filler.
func benchTexts() []struct{ name, text string } {
	mail := func(head, line string, size int) string {
		var b strings.Builder
		b.WriteString(head)
		for b.Len() < size {
			b.WriteString(line)
		}
		return b.String()
	}
	vi := func(size int) string {
		return mail("Kính gửi Trần Thị Linh,\r\nĐơn hàng 2610000007VN giá 107.000đ của bạn chưa thanh toán thành công, đặt lúc 10:05 ngày 01/11. Vui lòng gọi 0987 654 321 để được hoàn tiền.\r\n",
			"Chúng tôi xin lỗi vì sự bất tiện này. Nếu không xác nhận trong hôm nay, đơn hàng sẽ bị hủy và tiền sẽ không được hoàn lại.\r\n", size)
	}
	zh := func(size int) string {
		return mail("王女士您好，您于2026年11月1日10:05购买的隐形眼镜 月抛 2片，金额68.5元，订单号2611011234。请拨打13800138000联系客服。\r\n",
			"我们对给您带来的不便深表歉意。如果今天不确认，订单将被取消，款项将不予退还。\r\n", size)
	}
	var out []struct{ name, text string }
	for _, size := range []int{2 << 10, 100 << 10} {
		out = append(out,
			struct{ name, text string }{fmt.Sprintf("vi/%dKB", size>>10), vi(size)},
			struct{ name, text string }{fmt.Sprintf("zh/%dKB", size>>10), zh(size)})
	}
	return out
}

func BenchmarkFold(b *testing.B) {
	for _, bt := range benchTexts() {
		b.Run(bt.name, func(b *testing.B) {
			b.SetBytes(int64(len(bt.text)))
			b.ReportAllocs()
			for b.Loop() {
				norm.Fold(bt.text)
			}
		})
	}
}

// BenchmarkFinders is what a matcher does with a mail through the Find
// functions: its phone numbers for two regions, its prices and its dates,
// each call folding the text again.
func BenchmarkFinders(b *testing.B) {
	for _, bt := range benchTexts() {
		b.Run(bt.name, func(b *testing.B) {
			b.SetBytes(int64(len(bt.text)))
			b.ReportAllocs()
			for b.Loop() {
				norm.FindPhones(bt.text, "VN")
				norm.FindPhones(bt.text, "CN")
				norm.FindPrices(bt.text)
				norm.FindDateTimes(bt.text, "vi-VN")
			}
		})
	}
}

// BenchmarkScan is BenchmarkFinders with the text folded once.
func BenchmarkScan(b *testing.B) {
	for _, bt := range benchTexts() {
		b.Run(bt.name, func(b *testing.B) {
			b.SetBytes(int64(len(bt.text)))
			b.ReportAllocs()
			for b.Loop() {
				sc := norm.NewScan(bt.text)
				sc.Phones("VN")
				sc.Phones("CN")
				sc.Prices()
				sc.DateTimes("vi-VN")
			}
		})
	}
}

// BenchmarkNewScan is the folding alone.
func BenchmarkNewScan(b *testing.B) {
	for _, bt := range benchTexts() {
		b.Run(bt.name, func(b *testing.B) {
			b.SetBytes(int64(len(bt.text)))
			b.ReportAllocs()
			for b.Loop() {
				norm.NewScan(bt.text)
			}
		})
	}
}
