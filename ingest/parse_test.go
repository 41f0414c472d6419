package ingest_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/leaktrace/leaktrace/ingest"
)

// parseCRLF turns a readable LF fixture into the CRLF form mail travels in.
func parseCRLF(s string) []byte {
	return []byte(strings.ReplaceAll(s, "\n", "\r\n"))
}

func parseFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("read fixture: %v", err)
	}
	return raw
}

// parseChecked parses raw and checks the invariants every result must
// hold; it fails the test on an error.
func parseChecked(tb testing.TB, raw []byte, lim ingest.Limits) *ingest.Message {
	tb.Helper()
	m, err := ingest.ParseMessage(raw, lim)
	if err != nil {
		tb.Fatalf("ParseMessage: %v", err)
	}
	parseCheckInvariants(tb, m, lim)
	return m
}

func parseCheckInvariants(tb testing.TB, m *ingest.Message, lim ingest.Limits) {
	tb.Helper()
	if lim.MaxTextBytes <= 0 {
		lim.MaxTextBytes = ingest.DefaultLimits().MaxTextBytes
	}
	total := 0
	for i, s := range m.Texts {
		if !utf8.ValidString(s) {
			tb.Fatalf("Texts[%d] is not valid UTF-8: %q", i, s)
		}
		total += len(s)
	}
	if total > lim.MaxTextBytes {
		tb.Fatalf("text bytes=%d, want <= %d", total, lim.MaxTextBytes)
	}
	for name, s := range map[string]string{"Subject": m.Subject, "From": m.From, "FromAddr": m.FromAddr, "DateText": m.DateText, "MessageID": m.MessageID} {
		if !utf8.ValidString(s) {
			tb.Fatalf("%s is not valid UTF-8: %q", name, s)
		}
	}
	lists := [][]string{m.To, m.Cc, m.Bcc, m.ReplyTo, m.DeliveredTo, m.XOriginalTo, m.ReceivedFor, m.Received, m.AuthenticationResults, m.Problems}
	for _, l := range lists {
		for _, s := range l {
			if !utf8.ValidString(s) {
				tb.Fatalf("%q is not valid UTF-8", s)
			}
		}
	}
}

func parseAllText(m *ingest.Message) string {
	return strings.Join(m.Texts, "\n")
}

func parseHasProblem(m *ingest.Message, sub string) bool {
	for _, p := range m.Problems {
		if strings.Contains(p, sub) {
			return true
		}
	}
	return false
}

func TestParseMessage(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte

		from, fromAddr, subject, messageID string
		date                               time.Time
		to, cc, replyTo                    []string
		deliveredTo, xOriginalTo           []string
		receivedFor                        []string
		dkim                               int
		texts                              []string // exact Texts, when set
		contains                           []string // substrings of the joined texts
		absent                             []string // must not appear in the texts
		problems                           []string // substrings of some problem
		noProblems                         bool
	}{
		{
			name: "plain",
			raw: parseCRLF("From: Ann <Ann@Example.COM>\nTo: bob@example.net\nSubject: hello\n" +
				"Date: Mon, 13 May 2024 16:20:09 +0000\nMessage-ID: <x1@example.com>\n\nHello Bob.\nBye.\n"),
			from: "Ann <Ann@Example.COM>", fromAddr: "ann@example.com", subject: "hello", messageID: "x1@example.com",
			date:  time.Date(2024, 5, 13, 16, 20, 9, 0, time.UTC),
			to:    []string{"bob@example.net"},
			texts: []string{"Hello Bob.\nBye."}, noProblems: true,
		},
		{
			name: "multipart alternative vietnamese",
			raw:  parseFixture(t, "vi-scam.eml"),
			from: "Giao Hàng Nhanh <cskh@giaohang-nhanh.example>", fromAddr: "cskh@giaohang-nhanh.example",
			subject:     "Đơn hàng #VN2405-8812 của chị Linh đang bị giữ tại kho",
			messageID:   "20240514021230.4AB12@giaohang-nhanh.example",
			to:          []string{"linh.tran.k7q2@canary.example"},
			deliveredTo: []string{"linh.tran.k7q2@canary.example"},
			xOriginalTo: []string{"linh.tran.k7q2@canary.example"},
			receivedFor: []string{"linh.tran.k7q2@canary.example"},
			contains: []string{
				"Chào chị Trần Thị Linh,\n\nĐơn hàng #VN2405-8812 (Nồi chiên không dầu, 1.290.000đ)",
				"Vui lòng xác nhận qua số 0912 345 678",
				"Đơn hàng #VN2405-8812 chưa thể phát.",
				"Gọi 0912 345 678",
			},
			absent:     []string{"alert(", "color:red", "Thong bao", "\r"},
			noProblems: true,
		},
		{
			name: "quoted-printable",
			raw: parseCRLF("From: a@example.com\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: Quoted-Printable\n\n" +
				"Caf=C3=A9 au lait, soft=\nbreak, tab=09end, 100=3D100, lower=c3=a9\n"),
			texts: []string{"Café au lait, softbreak, tab\tend, 100=100, loweré"}, noProblems: true,
		},
		{
			name: "base64",
			raw: parseCRLF("From: a@example.com\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n" +
				"R+G7jWkgMDkxMiAzNDUg\nNjc4IG5nYXkh\n"),
			texts: []string{"Gọi 0912 345 678 ngay!"}, noProblems: true,
		},
		{
			name: "base64 glued from two encodings",
			raw: parseCRLF("From: a@example.com\nContent-Transfer-Encoding: base64\n\n" +
				base64.StdEncoding.EncodeToString([]byte("first ")) + "\n" + base64.StdEncoding.EncodeToString([]byte("second")) + "\n"),
			texts: []string{"first second"}, noProblems: true,
		},
		{
			name:     "invalid base64",
			raw:      parseCRLF("From: a@example.com\nContent-Transfer-Encoding: base64\n\naGVsbG8g!!d29ybGQ=\n"),
			texts:    []string{"hello world"},
			problems: []string{"invalid base64 in part 1"},
		},
		{
			name: "windows-1258 vietnamese",
			raw: []byte("From: a@example.com\r\nSubject: =?windows-1258?Q?=D0=F5n_h=E0ng_cu=D2a_chi=F2?=\r\n" +
				"Content-Type: text/plain; charset=windows-1258\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
				"Ch\xe0o chi\xf2 Linh, \xf0\xf5n h\xe0ng cu\xd2a chi\xf2 \xf0a\xde \xf0\xfd\xf5\xf2c giao.\r\n"),
			// windows-1258 writes tone marks as combining characters.
			subject:    "Đơn hàng cu\u0309a chi\u0323",
			contains:   []string{"Chào chi\u0323 Linh, đơn hàng cu\u0309a chi\u0323 đa\u0303 đươ\u0323c giao."},
			noProblems: true,
		},
		{
			name: "chinese gb18030 labelled gb2312",
			raw:  parseFixture(t, "zh-gb18030.eml"),
			from: `"客服中心" <kefu@kefu.example>`, fromAddr: "kefu@kefu.example",
			subject:     "您的订单理赔通知",
			to:          []string{"wang.fang.94xd@canary.example"},
			deliveredTo: []string{"wang.fang.94xd@canary.example"},
			receivedFor: []string{"wang.fang.94xd@canary.example"},
			// 㐀 exists only in GB18030, not in the GB2312 the part claims.
			contains:   []string{"王女士您好", "订单号 2024051488123，68.5元", "138 1234 5678", "㐀字为验证"},
			noProblems: true,
		},
		{
			name:        "english scam",
			raw:         parseFixture(t, "en-scam.eml"),
			fromAddr:    "support@parcel-notice.example",
			to:          []string{"jane.doe.x4m9@canary.example"},
			cc:          []string{"billing@parcel-notice.example"},
			replyTo:     []string{"refunds@parcel-notice.example"},
			deliveredTo: []string{"jane.doe.x4m9@canary.example"},
			receivedFor: []string{"jane.doe.x4m9@canary.example"},
			dkim:        1,
			contains:    []string{"order #112-3344556-7788990", "+1 (415) 555-0142"},
			noProblems:  true,
		},
		{
			name: "envelope recipients",
			raw: parseCRLF("Delivered-To: Canary.One@Canary.Example\nDelivered-To: canary.one@canary.example\nDelivered-To: relay@isp.example\n" +
				"X-Original-To: canary.one@canary.example, other@canary.example\n" +
				"Received: by mx.example for canary.two@canary.example; Mon, 13 May 2024 16:20:11 +0000\n" +
				"Received: from a ([192.0.2.1])\n\tby b with SMTP id 123\n\tFOR <Canary.Three@canary.example>;\n\tMon, 13 May 2024 16:20:10 +0000\n" +
				"Received: from c by d with LMTP id 77; Mon, 13 May 2024 16:20:09 +0000\n" +
				"From: x@example.com\n\nbody\n"),
			deliveredTo: []string{"canary.one@canary.example", "relay@isp.example"},
			xOriginalTo: []string{"canary.one@canary.example", "other@canary.example"},
			receivedFor: []string{"canary.two@canary.example", "canary.three@canary.example"},
			texts:       []string{"body"},
			noProblems:  true,
		},
		{
			// A Bcc'd or catch-all copy: only Received names the canary
			// address, at an international domain; and an unreadable To
			// keeps the whole of one.
			name: "international domain in Received and an unreadable To",
			raw: parseCRLF("Received: from a by mx.example for <An.Vo.x3n8pqa@Bücher.vn>; Mon, 13 May 2024 16:20:11 +0000\n" +
				"To: \"Vo, An\" <an.vo.x3n8pqa@bücher.vn>, <t@bücher．vn>, broken <<\n" +
				"From: x@example.com\n\nbody\n"),
			to:          []string{"an.vo.x3n8pqa@bücher.vn", "t@bücher.vn"},
			receivedFor: []string{"an.vo.x3n8pqa@bücher.vn"},
			texts:       []string{"body"},
		},
		{
			name:     "broken To header",
			raw:      parseFixture(t, "malformed-to.eml"),
			fromAddr: "no-reply@thongbao.example",
			to: []string{"linh.tran.k7q2@canary.example", "wang.fang.94xd@canary.example",
				"nguyen.an.3kz8@canary.example", "xnguyen.an.3kz8@canary.example"},
			contains: []string{"Hello from a broken base64 part", "Ship to: Trần Linh\ntracking VN123456789", "0912345678"},
			absent:   []string{"AAECAwQFBgcICQ", "preamble"},
			problems: []string{
				"To header unreadable, 4 addresses found by scan",
				`part 1: unknown charset "x-foo", read as Latin-1`,
				"invalid base64 in part 2",
				"unreadable Date header",
			},
		},
		{
			name:     "address scan beside chinese text and a lure in From",
			raw:      parseCRLF("From: support@bank.example <Scam@Evil.example> <<\nTo: 王芳<wang.fang.94xd@canary.example>, 请联系li.na.7k2q@canary.example <<\n\nx\n"),
			fromAddr: "scam@evil.example",
			to:       []string{"wang.fang.94xd@canary.example", "li.na.7k2q@canary.example"},
			texts:    []string{"x"},
			problems: []string{"From header unreadable, 2 addresses found by scan", "To header unreadable, 2 addresses found by scan"},
		},
		{
			name:     "html only",
			raw:      parseFixture(t, "html-only.eml"),
			subject:  "Hoàn tiền đơn hàng",
			from:     "Shopee Hỗ trợ <hotro@shopee-hoantien.example>",
			texts:    []string{"Kính gửi NguyễnVăn An,\n\nMã đơn: 240516ABC & s\u00f4\u0301 tiền 68.500₫\n\nNgày 16/05\nNhận hoàn tiền"},
			absent:   []string{"<", "display:none", "no</p>", "canary@x.example", "evil.example", "Hoàn tiền</title>"},
			problems: nil, noProblems: true,
		},
		{
			name: "html part declares charset in meta only",
			raw: []byte("From: a@example.com\r\nContent-Type: text/html\r\n\r\n" +
				"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\"></head><body>\xcd\xf5\xc5\xae\xca\xbf</body></html>"),
			texts: []string{"王女士"}, noProblems: true,
		},
		{
			name: "raw 8-bit UTF-8 headers",
			raw:  parseFixture(t, "8bit-header.eml"),
			from: "Nguyễn Văn An <an@example.vn>", fromAddr: "an@example.vn",
			to:      []string{"wang.fang.94xd@canary.example"},
			subject: "Đơn hàng của bạn",
			texts:   []string{"Body á ok."},
		},
		{
			name: "raw 8-bit GBK subject read in the body charset",
			raw: []byte("From: a@example.com\r\nSubject: \xc4\xfa\xb5\xc4\xb6\xa9\xb5\xa5\r\n" +
				"Content-Type: text/plain; charset=gbk\r\n\r\n\xcd\xf5\xc5\xae\xca\xbf\r\n"),
			subject:  "您的订单",
			texts:    []string{"王女士"},
			problems: []string{"Subject header has 8-bit bytes that are not UTF-8, read as gbk"},
		},
		{
			name: "forwarded message",
			raw:  parseFixture(t, "forwarded.eml"),
			to:   []string{"me@personal.example"},
			texts: []string{
				"See below.",
				"From: \"CSKH\" <cskh@lazada-hoantien.example>\nTo: linh.tran.k7q2@canary.example\nDate: Thu, 16 May 2024 09:00:00 +0700\nSubject: Xác nhận đơn",
				"Goi 0987 654 321 de nhan hoan tien.",
				"Goi 0987 654 321 de nhan hoan tien.",
			},
			noProblems: true,
		},
		{
			name: "invalid UTF-8 in a UTF-8 part",
			raw: []byte("From: a@example.com\r\nSubject: =?utf-8?B?/w==?= x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
				"ok \xff\xfe then \xc3\r\n"),
			subject:  "\uFFFD x",
			texts:    []string{"ok \uFFFD then \uFFFD"},
			problems: []string{"part 1: invalid UTF-8 replaced"},
		},
		{
			name:     "8-bit text without charset",
			raw:      []byte("From: a@example.com\r\n\r\nCaf\xe9 cr\xe8me\r\n"),
			texts:    []string{"Café crème"},
			problems: []string{"part 1: 8-bit text without a charset, read as Latin-1"},
		},
		{
			name: "unknown charset that is valid UTF-8",
			raw: parseCRLF("From: a@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\n" +
				"Content-Type: text/plain; charset=x-user-defined-99\n\nXin chào\n--b--\n"),
			texts:    []string{"Xin chào"},
			problems: []string{`part 1: unknown charset "x-user-defined-99", read as UTF-8`},
		},
		{
			name: "unknown transfer encoding",
			raw: parseCRLF("From: a@example.com\nContent-Type: text/plain\nContent-Transfer-Encoding: x-rot13\n\n" +
				"still text\n"),
			texts:    []string{"still text"},
			problems: []string{`part 1: unknown transfer encoding "x-rot13", read as 8bit`},
		},
		{
			name: "headers only",
			raw:  parseCRLF("From: a@example.com\nTo: canary@canary.example\nSubject: no body\n"),
			to:   []string{"canary@canary.example"}, subject: "no body",
			texts: nil, noProblems: true,
		},
		{
			name:  "headers and empty body",
			raw:   parseCRLF("From: a@example.com\nSubject: empty\n\n"),
			texts: nil, noProblems: true,
		},
		{
			name: "mbox envelope line and LF line ends",
			raw: []byte("From MAILER-DAEMON Fri Jul  8 12:08:34 2011\nFrom: a@example.com\nTo: canary@canary.example\n\n" +
				"hi\n"),
			to: []string{"canary@canary.example"}, texts: []string{"hi"}, noProblems: true,
		},
		{
			name:     "body without blank line",
			raw:      parseCRLF("From: a@example.com\nTo: canary@canary.example\nHello, this is the body.\nSecond line.\n"),
			to:       []string{"canary@canary.example"},
			texts:    []string{"Hello, this is the body.\nSecond line."},
			problems: []string{"message: no blank line after header"},
		},
		{
			name: "multipart without boundary parameter",
			raw: parseCRLF("From: a@example.com\nContent-Type: multipart/mixed\n\n" +
				"text anyway\n"),
			texts:    []string{"text anyway"},
			problems: []string{"message: multipart/mixed without boundary, body read as text"},
		},
		{
			name: "boundary that is a prefix of a nested boundary",
			raw: parseCRLF("From: a@example.com\nContent-Type: multipart/mixed; boundary=\"==P\"\n\n--==P\n" +
				"Content-Type: multipart/alternative; boundary=\"==P_1\"\n\n--==P_1\nContent-Type: text/plain\n\nalt one\n" +
				"--==P_1\nContent-Type: text/plain\n\nalt two\n--==P_1--\n\n--==P\nContent-Type: text/plain\n\nlast\n--==P--\n"),
			texts: []string{"alt one", "alt two", "last"}, noProblems: true,
		},
		{
			name: "content-type with duplicate parameters",
			raw: parseCRLF("From: a@example.com\nContent-Type: multipart/alternative; boundary=\"x1\"; boundary=\"x1\"\n\n" +
				"--x1\nContent-Type: text/plain; charset=utf-8; charset=utf-8\n\nduplicated\n--x1--\n"),
			texts: []string{"duplicated"}, noProblems: true,
		},
		{
			name: "multipart digest defaults to message/rfc822",
			raw: parseCRLF("From: a@example.com\nContent-Type: multipart/digest; boundary=d\n\n--d\n\n" +
				"From: inner@example.com\nSubject: inner\n\ninner body\n--d--\n"),
			texts: []string{"From: inner@example.com\nSubject: inner", "inner body"}, noProblems: true,
		},
		{
			name: "base64 encoded message/rfc822",
			raw: parseCRLF("From: a@example.com\nContent-Type: multipart/mixed; boundary=m\n\n--m\n" +
				"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n" +
				base64.StdEncoding.EncodeToString([]byte("To: canary.four@canary.example\r\n\r\nwrapped body\r\n")) + "\n--m--\n"),
			texts: []string{"To: canary.four@canary.example", "wrapped body"}, noProblems: true,
		},
		{
			name: "bounce report",
			raw: parseCRLF("From: MAILER-DAEMON@example.com\nContent-Type: multipart/report; report-type=delivery-status; boundary=r\n\n" +
				"--r\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; canary.five@canary.example\nAction: failed\n--r--\n"),
			contains: []string{"Final-Recipient: rfc822; canary.five@canary.example"}, noProblems: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := bytes.Clone(tt.raw)
			m := parseChecked(t, tt.raw, ingest.DefaultLimits())
			if !bytes.Equal(before, tt.raw) {
				t.Fatalf("ParseMessage modified its input")
			}
			if tt.from != "" && m.From != tt.from {
				t.Fatalf("From=%q, want %q", m.From, tt.from)
			}
			if tt.fromAddr != "" && m.FromAddr != tt.fromAddr {
				t.Fatalf("FromAddr=%q, want %q", m.FromAddr, tt.fromAddr)
			}
			if tt.subject != "" && m.Subject != tt.subject {
				t.Fatalf("Subject=%q, want %q", m.Subject, tt.subject)
			}
			if tt.messageID != "" && m.MessageID != tt.messageID {
				t.Fatalf("MessageID=%q, want %q", m.MessageID, tt.messageID)
			}
			if !tt.date.IsZero() && !m.Date.Equal(tt.date) {
				t.Fatalf("Date=%v, want %v", m.Date, tt.date)
			}
			for _, c := range []struct {
				field     string
				got, want []string
			}{
				{"To", m.To, tt.to}, {"Cc", m.Cc, tt.cc}, {"ReplyTo", m.ReplyTo, tt.replyTo},
				{"DeliveredTo", m.DeliveredTo, tt.deliveredTo}, {"XOriginalTo", m.XOriginalTo, tt.xOriginalTo},
				{"ReceivedFor", m.ReceivedFor, tt.receivedFor},
			} {
				if c.want != nil && !reflect.DeepEqual(c.got, c.want) {
					t.Fatalf("%s=%q, want %q", c.field, c.got, c.want)
				}
			}
			if m.DKIMSignatures != tt.dkim {
				t.Fatalf("DKIMSignatures=%d, want %d", m.DKIMSignatures, tt.dkim)
			}
			if tt.texts != nil || tt.contains == nil {
				if !reflect.DeepEqual(m.Texts, tt.texts) {
					t.Fatalf("Texts=%q, want %q", m.Texts, tt.texts)
				}
			}
			all := parseAllText(m)
			for _, s := range tt.contains {
				if !strings.Contains(all, s) {
					t.Fatalf("Texts=%q, want them to contain %q", m.Texts, s)
				}
			}
			for _, s := range tt.absent {
				if strings.Contains(all, s) {
					t.Fatalf("Texts=%q, want no %q", m.Texts, s)
				}
			}
			for _, s := range tt.problems {
				if !parseHasProblem(m, s) {
					t.Fatalf("Problems=%q, want one containing %q", m.Problems, s)
				}
			}
			if tt.noProblems && len(m.Problems) > 0 {
				t.Fatalf("Problems=%q, want none", m.Problems)
			}
		})
	}
}

func TestParseMessageSubject(t *testing.T) {
	tests := []struct {
		name, header, want string
	}{
		{"plain", "Hello", "Hello"},
		{"utf-8 base64", "=?UTF-8?B?xJDGoW4gaMOgbmc=?=", "Đơn hàng"},
		{"utf-8 q", "=?utf-8?q?=C4=90=C6=A1n_h=C3=A0ng?=", "Đơn hàng"},
		{"gb2312 base64", "=?GB2312?B?xPq1xLaptaU=?=", "您的订单"},
		{"iso-8859-1 q", "=?ISO-8859-1?Q?Caf=E9_cr=E8me?=", "Café crème"},
		{"space between words dropped", "=?utf-8?q?a?= \t =?utf-8?q?b?=", "ab"},
		{"text between words kept", "=?utf-8?q?a?= and =?utf-8?q?b?=", "a and b"},
		{"utf-8 rune split over two words", "=?UTF-8?B?4bs=?= =?UTF-8?B?hw==?=", "ệ"},
		{"gbk character split over two words", "=?GBK?B?xA==?= =?GBK?B?+g==?=", "您"},
		{"word glued to text", "Re:=?utf-8?q?Ch=C3=A0o?=!", "Re:Chào!"},
		{"language suffix", "=?utf-8*vi?q?Ch=C3=A0o?=", "Chào"},
		{"not a word", "=?utf-8?x?abc?= =? ?=", "=?utf-8?x?abc?= =? ?="},
		{"unterminated word", "=?utf-8?q?abc", "=?utf-8?q?abc"},
		{"koi8-r", "=?koi8-r?B?8NLJ18XU?=", "Привет"},
		{"big5", "=?big5?B?pKSk5Q==?=", "中文"},
		{"windows-1252", "=?windows-1252?Q?=93quoted=94?=", "“quoted”"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := parseChecked(t, []byte("From: a@example.com\r\nSubject: "+tt.header+"\r\n\r\n"), ingest.DefaultLimits())
			if m.Subject != tt.want {
				t.Fatalf("Subject=%q, want %q", m.Subject, tt.want)
			}
		})
	}
}

func TestParseMessageErrors(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"white space", []byte(" \r\n\t\r\n")},
		{"no header", []byte("just some text\nand more text\n")},
		{"binary", []byte{0, 1, 2, 3, 0xff, '\n', 0xfe}},
		{"blank line first", []byte("\r\nbody only\r\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ingest.ParseMessage(tt.raw, ingest.DefaultLimits())
			if err == nil {
				t.Fatalf("ParseMessage=%+v, want an error", m)
			}
		})
	}
}

// parseAllocated returns the bytes allocated while f runs.
func parseAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestParseMessageLimits(t *testing.T) {
	t.Run("30 MB attachment", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("From: a@example.com\r\nTo: canary.six@canary.example\r\nContent-Type: multipart/mixed; boundary=\"big\"\r\n\r\n")
		b.WriteString("--big\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		line := strings.Repeat("QUJD", 19) + "\r\n"
		for b.Len() < 30<<20 {
			b.WriteString(line)
		}
		b.WriteString("--big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nCall 0912 345 678 now.\r\n--big--\r\n")
		raw := []byte(b.String())

		var m *ingest.Message
		alloc := parseAllocated(func() { m = parseChecked(t, raw, ingest.DefaultLimits()) })
		if !reflect.DeepEqual(m.Texts, []string{"Call 0912 345 678 now."}) {
			t.Fatalf("Texts=%q, want the text part", m.Texts)
		}
		if alloc > 4<<20 {
			t.Fatalf("allocated=%d bytes, want <= %d for a skipped attachment", alloc, 4<<20)
		}
	})

	t.Run("30 MB text part", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("From: a@example.com\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		line := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("Gọi 0912 345 678 ", 3))) + "\r\n"
		for b.Len() < 30<<20 {
			b.WriteString(line)
		}
		raw := []byte(b.String())
		lim := ingest.DefaultLimits()

		var m *ingest.Message
		alloc := parseAllocated(func() { m = parseChecked(t, raw, lim) })
		if len(m.Texts) != 1 || !strings.HasPrefix(m.Texts[0], "Gọi 0912 345 678") {
			t.Fatalf("Texts has %d texts, want one starting with the phone number", len(m.Texts))
		}
		if n := len(m.Texts[0]); n > lim.MaxTextBytes || n < lim.MaxTextBytes-100 {
			t.Fatalf("text bytes=%d, want close to %d", n, lim.MaxTextBytes)
		}
		if !parseHasProblem(m, "text over 4 MiB cut") {
			t.Fatalf("Problems=%q, want the text cut", m.Problems)
		}
		if alloc > 10*uint64(lim.MaxTextBytes) {
			t.Fatalf("allocated=%d bytes, want <= %d", alloc, 10*lim.MaxTextBytes)
		}
	})

	t.Run("1000 nested multiparts", func(t *testing.T) {
		const depth = 1000
		var head strings.Builder
		head.WriteString("From: a@example.com\r\nTo: canary.seven@canary.example\r\n")
		for i := range depth {
			fmt.Fprintf(&head, "Content-Type: multipart/mixed; boundary=\"n%d\"\r\n\r\n--n%d\r\nContent-Type: text/plain\r\n\r\nlevel %d\r\n--n%d\r\n", i, i, i, i)
		}
		head.WriteString("Content-Type: text/plain\r\n\r\ninnermost\r\n")
		for i := depth - 1; i >= 0; i-- {
			fmt.Fprintf(&head, "--n%d--\r\n", i)
		}
		raw := []byte(head.String())
		m := parseChecked(t, raw, ingest.DefaultLimits())
		if m.To[0] != "canary.seven@canary.example" {
			t.Fatalf("To=%q, want the canary", m.To)
		}
		if len(m.Texts) != 10 || m.Texts[0] != "level 0" || m.Texts[9] != "level 9" {
			t.Fatalf("Texts=%q, want levels 0 to 9", m.Texts)
		}
		if !parseHasProblem(m, "nested deeper than 10 levels, not opened") {
			t.Fatalf("Problems=%q, want the depth limit", m.Problems)
		}
	})

	t.Run("10000 parts", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"p\"\r\n\r\n")
		for i := range 10000 {
			fmt.Fprintf(&b, "--p\r\nContent-Type: text/plain; charset=x-unknown-%d\r\n\r\npart %d\r\n", i, i)
		}
		b.WriteString("--p--\r\n")
		m := parseChecked(t, []byte(b.String()), ingest.DefaultLimits())
		if len(m.Texts) != 199 {
			t.Fatalf("len(Texts)=%d, want 199 (200 parts less the container)", len(m.Texts))
		}
		// 199 unknown charsets: 100 listed, a count of the rest, then the
		// limit, which is never left out.
		want := []string{"99 more problems not listed", "stopped after 200 parts"}
		if len(m.Problems) != 102 || !reflect.DeepEqual(m.Problems[100:], want) {
			t.Fatalf("Problems has %d entries ending %q, want 102 ending %q", len(m.Problems), m.Problems[min(100, len(m.Problems)):], want)
		}
	})

	t.Run("huge top-level header", func(t *testing.T) {
		raw := []byte("From: a@example.com\r\nTo: canary.eight@canary.example\r\nX-Junk: " +
			strings.Repeat("j", 1<<20) + "\r\nSubject: lost\r\n\r\nbody after\r\n")
		m := parseChecked(t, raw, ingest.DefaultLimits())
		if !reflect.DeepEqual(m.To, []string{"canary.eight@canary.example"}) || m.Subject != "" {
			t.Fatalf("To=%q Subject=%q, want the canary and no subject", m.To, m.Subject)
		}
		if !reflect.DeepEqual(m.Texts, []string{"body after"}) {
			t.Fatalf("Texts=%q, want the body", m.Texts)
		}
		if !parseHasProblem(m, "message: header block over 256 KiB cut") {
			t.Fatalf("Problems=%q, want the header cut", m.Problems)
		}
	})

	t.Run("huge nested header", func(t *testing.T) {
		raw := []byte("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=h\r\n\r\n--h\r\nContent-Type: text/plain\r\n" +
			strings.Repeat("X-Junk: jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj\r\n", 30000) + "\r\nnested body\r\n--h--\r\n")
		var m *ingest.Message
		alloc := parseAllocated(func() { m = parseChecked(t, raw, ingest.DefaultLimits()) })
		if !reflect.DeepEqual(m.Texts, []string{"nested body"}) {
			t.Fatalf("Texts=%q, want the nested body", m.Texts)
		}
		if !parseHasProblem(m, "part 1: header block over 256 KiB cut") {
			t.Fatalf("Problems=%q, want the header cut", m.Problems)
		}
		if alloc > 8<<20 {
			t.Fatalf("allocated=%d bytes, want <= %d", alloc, 8<<20)
		}
	})

	t.Run("small text budget", func(t *testing.T) {
		lim := ingest.Limits{MaxTextBytes: 10}
		m := parseChecked(t, parseFixture(t, "vi-scam.eml"), lim)
		if !reflect.DeepEqual(m.Texts, []string{"Chào ch"}) {
			t.Fatalf("Texts=%q, want the first 10 bytes cut at a rune", m.Texts)
		}
	})
}

// TestParseMessageHostile feeds inputs built to make a careless parser
// quadratic or greedy. Each must finish fast and keep within the limits.
func TestParseMessageHostile(t *testing.T) {
	const n = 250 << 10 // just under MaxHeaderBytes
	rep := func(s string) string { return strings.Repeat(s, n/len(s)) }
	tests := []struct {
		name, header, body string
	}{
		{"encoded words never closed", "Subject: " + rep("=?a?q?x "), "x"},
		{"bad encoded words closed far away", "Subject: " + rep("=?x ") + "?=", "x"},
		{"many encoded words", "Subject: " + rep("=?utf-8?q?a?= "), "x"},
		{"8-bit between encoded words", "Subject: " + rep("\xff=?utf-8?q?a?="), "x"},
		{"long address list", "To: " + rep("a@b.c, "), "x"},
		{"long broken address list", "To: " + rep("a@b.c, <<"), "x"},
		{"unclosed comments", "To: " + rep("("), "x"},
		{"many received for", "Received: " + rep("for <a@b.c> "), "x"},
		{"long date", "Date: " + rep("(Mon, "), "x"},
		{"many parameters", "Content-Type: multipart/mixed; " + rep("boundary=b; "), "x"},
		{"many fields", rep("a:\r\n"), "x"},
		{"deep html", "Content-Type: text/html", strings.Repeat("<div>", 1<<18)},
		{"huge html attribute", "Content-Type: text/html", "<a href=\"" + strings.Repeat("x", 5<<20)},
		{"unclosed script", "Content-Type: text/html", "<script>" + strings.Repeat("x<", 1<<19)},
		{"lines that look like boundaries", "Content-Type: multipart/mixed; boundary=b", strings.Repeat("--bx\r\n", 1<<18)},
		{"a million empty parts", "Content-Type: multipart/mixed; boundary=b", strings.Repeat("--b\r\n", 1<<18)},
		{"bare equals signs", "Content-Transfer-Encoding: quoted-printable", strings.Repeat("=", 1<<20)},
		{"base64 of junk", "Content-Transfer-Encoding: base64", strings.Repeat("!", 1<<20)},
		{"nested message/rfc822", strings.Repeat("Content-Type: message/rfc822\r\n\r\n", 1<<16), "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte("From: x@example.com\r\n" + tt.header + "\r\n\r\n" + tt.body)
			start := time.Now()
			parseDeterministic(t, raw, ingest.DefaultLimits())
			// Linear work takes milliseconds; the bound only catches the
			// quadratic kind, which takes minutes.
			if d := time.Since(start); d > 20*time.Second {
				t.Fatalf("parse took %v, want well under 20s", d)
			}
		})
	}
}

// TestParseMessageCorpusFixtures runs every testdata fixture, third-party
// ones included, through the invariants.
func TestParseMessageCorpusFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("fixtures=%d (%v), want some", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw := parseFixture(t, filepath.Base(f))
			parseDeterministic(t, raw, ingest.DefaultLimits())
		})
	}
}

// parseDeterministic parses raw twice and checks the invariants, that raw
// is unchanged and that both results agree. It reports whether raw parsed.
func parseDeterministic(tb testing.TB, raw []byte, lim ingest.Limits) (*ingest.Message, error) {
	tb.Helper()
	before := bytes.Clone(raw)
	m1, err1 := ingest.ParseMessage(raw, lim)
	if !bytes.Equal(raw, before) {
		tb.Fatalf("ParseMessage modified its input")
	}
	m2, err2 := ingest.ParseMessage(raw, lim)
	if (err1 == nil) != (err2 == nil) || !reflect.DeepEqual(m1, m2) {
		tb.Fatalf("ParseMessage is not deterministic: %v / %v", err1, err2)
	}
	if err1 == nil {
		parseCheckInvariants(tb, m1, lim)
	}
	return m1, err1
}

func BenchmarkParseMessage(b *testing.B) {
	small := parseFixture(b, "vi-scam.eml")

	var big strings.Builder
	big.WriteString("From: =?utf-8?q?Giao_H=C3=A0ng?= <a@example.com>\r\nTo: canary@canary.example\r\nSubject: big\r\n" +
		"Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
	for big.Len() < 30<<10 {
		big.WriteString("Ch=C3=A0o ch=E1=BB=8B Linh, =C4=91=C6=A1n h=C3=A0ng #VN2405-8812 g=E1=BB=8Di 0912 345 678.\r\n")
	}
	big.WriteString("--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>")
	for big.Len() < 70<<10 {
		big.WriteString("<p>Ch&agrave;o <b>ch&#7883; Linh</b>, <span style=\"x\">&#273;&#417;n h&agrave;ng</span></p>\r\n")
	}
	big.WriteString("</body></html>\r\n--B\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	for big.Len() < 100<<10 {
		big.WriteString(strings.Repeat("JVBE", 19) + "\r\n")
	}
	big.WriteString("--B--\r\n")

	for _, bm := range []struct {
		name string
		raw  []byte
	}{
		{"2KB", small},
		{"100KB", []byte(big.String())},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bm.raw)))
			for b.Loop() {
				if _, err := ingest.ParseMessage(bm.raw, ingest.DefaultLimits()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCorpora runs the shared corpora of malformed and real-world mail
// through ParseMessage. It reads them in place: several of their licences
// forbid copying them into the repository.
func TestCorpora(t *testing.T) {
	dirs := []string{
		filepath.Join("..", "..", "shared", "corpora", "mime-malformed"),
		filepath.Join("..", "..", "shared", "corpora", "real-mail"),
	}
	var files, messages, errs, withProblems, problems int
	for _, dir := range dirs {
		if _, err := os.Stat(dir); err != nil {
			t.Skipf("corpus %s not present (it lives in shared/, beside the repository): %v", dir, err)
		}
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || parseSkipCorpusFile(d.Name()) {
				return err
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			msgs := [][]byte{raw}
			if strings.HasSuffix(path, ".mbox") {
				msgs = parseSplitMbox(raw)
			}
			for i, msg := range msgs {
				t.Run(fmt.Sprintf("%s#%d", path, i), func(t *testing.T) {
					sum := sha256.Sum256(msg)
					m, err := parseDeterministic(t, msg, ingest.DefaultLimits())
					if sha256.Sum256(msg) != sum {
						t.Fatalf("ParseMessage modified its input")
					}
					messages++
					if err != nil {
						errs++
						return
					}
					if len(m.Problems) > 0 {
						withProblems++
						problems += len(m.Problems)
					}
				})
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walk %s: %v", dir, err)
		}
	}
	t.Logf("corpora: %d files, %d messages, %d errors, %d messages with problems, %d problems", files, messages, errs, withProblems, problems)
}

func parseSkipCorpusFile(name string) bool {
	return strings.HasSuffix(name, ".md") || strings.Contains(name, "LICENSE") || strings.Contains(name, "COPYING")
}

// parseSplitMbox splits an mbox on its "From " lines, keeping each envelope
// line with its message.
func parseSplitMbox(raw []byte) [][]byte {
	var msgs [][]byte
	start := 0
	for i := 0; i < len(raw); {
		next := len(raw)
		if j := bytes.IndexByte(raw[i:], '\n'); j >= 0 {
			next = i + j + 1
		}
		if i > start && bytes.HasPrefix(raw[i:], []byte("From ")) {
			msgs = append(msgs, raw[start:i])
			start = i
		}
		i = next
	}
	return append(msgs, raw[start:])
}
