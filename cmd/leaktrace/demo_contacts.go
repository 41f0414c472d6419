package main

import (
	"bytes"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"

	"github.com/leaktrace/leaktrace/attribution"
	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/ingest"
)

// demoContact is one thing that arrived, made from the issued tokens the
// way a scammer holding them would write it.
type demoContact struct {
	after   float64 // days after the previous one
	channel canary.Channel
	to      string
	from    string
	subject string
	text    string
	gist    string
	mark    string
	why     string
}

func (d *demo) contacts() []demoContact {
	vnName := func(ref string) string { return given(d.value(ref, canary.FieldShippingName)) }
	acctName := given(d.value("vn-01", canary.FieldAccountName))
	cnName := d.value("cn-01", canary.FieldShippingName)
	cnSurname := string([]rune(cnName)[:1])
	list := []demoContact{
		{after: 9, channel: canary.ChannelEmail, to: d.value("vn-01", "courier app email"), from: "FastExpress CSKH <cskh@fastexpress-hotro.com>",
			subject: "Đơn hàng " + d.value("vn-01", "tracking_no") + " giao không thành công",
			text:    fmt.Sprintf("Chào chị %s,\n\nĐơn hàng %s của chị giao không thành công do sai địa chỉ. Vui lòng xác nhận lại địa chỉ và thanh toán phí giao lại 15.000đ tại đường dẫn bên dưới trong 24 giờ.\n\nFastExpress", vnName("vn-01"), d.value("vn-01", "tracking_no")),
			gist:    "Vietnamese phishing: 'delivery failed, pay 15.000đ' — to the email registered only in FastExpress's app"},
		{after: 2, channel: canary.ChannelEmail, to: d.value("vn-05", "courier app email"), from: "FastExpress Support <support@fastexpress-parcel.net>",
			subject: "Action needed: parcel " + d.value("vn-05", "tracking_no") + " held at customs",
			text:    fmt.Sprintf("Dear customer,\n\nYour parcel %s is held. Pay the customs fee of 49.000 VND within 12 hours or it will be returned.\n", d.value("vn-05", "tracking_no")),
			gist:    "English phishing to the vn-05 courier-app email: a second order, the same courier"},
		{after: 1, channel: canary.ChannelSMS, to: d.value("vn-03", canary.FieldShippingPhone), from: "+84 88 123 4567",
			text: fmt.Sprintf("[ShopA] Chi %s oi, don hang Serum Vitamin C Klairs 35ml gia 312.000d cua chi bi loi thanh toan. Goi 0888 123 456 de duoc hoan tien gap doi.", vnName("vn-03")),
			gist: "SMS quoting the exact item and price of prepaid order vn-03"},
		{after: 1, channel: canary.ChannelCall, to: d.value("vn-04", canary.FieldShippingPhone), from: "+84 79 555 0199",
			text: fmt.Sprintf("Alo chị %s phải không ạ, em gọi từ bộ phận chăm sóc khách hàng, đơn Son kem lì Black Rouge A12 giá 165.000đ chị đặt bị lỗi, chị cho em xin mã OTP để hoàn tiền ạ.", vnName("vn-04")),
			gist: "call transcript quoting item and price of cash-on-delivery order vn-04"},
		{after: 1, channel: canary.ChannelEmail, to: d.value("vn-01", canary.FieldAccountEmail), from: "ShopA <no-reply@shopa.vn>",
			subject: "Xác nhận đơn hàng 2610120001VN", text: "Cảm ơn bạn đã mua sắm tại ShopA. Đơn hàng 2610120001VN đã được xác nhận.",
			gist: "ShopA's own order confirmation (checked by hand: signed by shopa.vn)", mark: canary.MarkFirstParty,
			why: "genuine order confirmation; DKIM signature of shopa.vn checked by hand"},
		{after: 1, channel: canary.ChannelEmail, to: d.value("vn-01", canary.FieldAccountEmail), from: "ShopA <security@shopa-support.top>",
			subject: "Tài khoản ShopA của quý khách tạm thời bị khóa",
			text:    "Kính gửi quý khách, tài khoản của quý khách có dấu hiệu đăng nhập bất thường. Vui lòng xác minh tại đường dẫn sau để tránh bị khóa vĩnh viễn.",
			gist:    "impersonation of ShopA, not authenticated: to the account email only ShopA was given"},
		{after: 0.5, channel: canary.ChannelEmail, to: "info@canary-inbox.example", from: "SEO Team <offers@bulkmail.example>",
			subject: "Grow your traffic 300%", text: "Hello webmaster, we can boost your ranking.",
			gist: "dictionary spam to a local part never issued"},
		{after: 0.5, channel: canary.ChannelCall, to: "0912000199", from: "+84 24 7300 1234",
			text: "Alo anh Tuấn ơi, khoản vay của anh đã quá hạn...",
			gist: "a call to the fresh SIM still in quarantine: the previous owner's debt collector"},
		{after: 1, channel: canary.ChannelPostal, to: d.value("vn-03", canary.FieldShippingName) + "\n" + d.value("vn-03", canary.FieldShippingAddr),
			text: "Chúc mừng quý khách đã trúng thưởng xe máy Honda Vision! Liên hệ hotline để nhận giải.",
			gist: "a 'prize' letter addressed with vn-03's name and address variant"},
		{after: 1, channel: canary.ChannelSMS, to: d.value("vn-02", canary.FieldShippingPhone), from: "+84 70 222 3344",
			text: fmt.Sprintf("Chao chi %s, ban da duoc chon nhan voucher 500k tu ShopA. Truy cap shopa-voucher.top", acctName),
			gist: "SMS to vn-02's phone greeting the shopper by the account's name"},
		{after: 1, channel: canary.ChannelCall, to: d.value("cn-01", canary.FieldShippingPhone), from: "+86 171 0000 1234",
			text: fmt.Sprintf("%s女士您好，我是淘商城客服，您购买的隐形眼镜 月抛 2片，金额68.5元，订单号2611011234，因质量问题我们为您办理双倍理赔，请下载会议软件配合操作。", cnSurname),
			gist: "Chinese 'customer service' call quoting item, price and order number of cn-01"},
		{after: 1, channel: canary.ChannelSMS, to: d.value("cn-03", canary.FieldShippingPhone), from: "1069 0000 8888",
			text: fmt.Sprintf("【淘商城】%s女士，您的订单2611019012（美瞳 日抛 10片）支付异常，请联系客服退款。", string([]rune(d.value("cn-03", canary.FieldShippingName))[:1])),
			gist: "Chinese SMS about cn-03, which the shop has not shipped yet"},
		{after: 1, channel: canary.ChannelEmail, to: d.value("vn-01", canary.FieldAccountEmail), from: "Investor Club <club@bulk-leads.example>",
			subject: "Cơ hội đầu tư / 投资机会", text: "Quý khách (order ref 2611011234) được mời tham gia nhóm đầu tư.",
			gist: "a broker list merging two leaks: ShopA's account email with a cn-01 order number"},
	}
	return list
}

func (d *demo) receive() error {
	u, err := d.db.Universe(d.ctx)
	if err != nil {
		return err
	}
	d.in = &ingest.Ingester{Store: d.db, Matcher: attribution.NewMatcher(u), Limits: ingest.DefaultLimits(), Now: func() time.Time { return d.clock }}
	list := d.contacts()
	if d.err != nil {
		return d.err
	}
	d.section("3. What came in over the following weeks")
	t := &table{}
	t.add("ID", "DAY", "CHANNEL", "WHAT")
	start := d.clock
	for _, c := range list {
		d.advance(c.after)
		var rec *ingest.Recorded
		if c.channel == canary.ChannelEmail {
			rec, err = d.in.Email(d.ctx, mailRaw(d.clock, c.from, c.to, c.subject, c.text), "demo mail", nil)
		} else {
			rec, err = d.in.Text(d.ctx, ingest.TextContact{Channel: c.channel, To: c.to, From: c.from, Text: c.text, At: d.clock, Source: "demo"})
		}
		if err != nil {
			return err
		}
		if c.mark != "" {
			if err := d.db.MarkContact(d.ctx, rec.Contact.ID, c.mark, c.why); err != nil {
				return err
			}
		}
		t.add(fmt.Sprint(rec.Contact.ID), fmt.Sprintf("+%.0f", d.clock.Sub(start).Hours()/24), string(c.channel), c.gist)
	}
	t.write(d.w)
	fmt.Fprintln(d.w, "\nEach contact's raw bytes (the .eml, or the record as typed) are stored under their SHA-256, and every step is in the hash-chained audit log.")
	return nil
}

// mailRaw writes a message as a mail host would have delivered it.
func mailRaw(at time.Time, from, to, subject, body string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Received: from mail.sender.example (unknown [203.0.113.7])\r\n\tby mx.canary-inbox.example with ESMTPS id 4Zq9\r\n\tfor <%s>; %s\r\n", to, at.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n", encodeAddr(from), to, mime.BEncoding.Encode("utf-8", subject), at.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%d.demo@sender.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", at.UnixNano())
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n")))
	qp.Close()
	b.WriteString("\r\n")
	return b.Bytes()
}

func encodeAddr(a string) string {
	name, addr, ok := strings.Cut(a, " <")
	if !ok {
		return a
	}
	return mime.QEncoding.Encode("utf-8", name) + " <" + addr
}
