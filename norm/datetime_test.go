package norm_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/norm"
)

func TestParseTime(t *testing.T) {
	ict := time.FixedZone("ICT", 7*3600)
	tests := []struct {
		in, locale string
		want       string // RFC 3339
		wantErr    string // substring of the error; "" for none
	}{
		{"2026-11-01T10:00:00+08:00", "vi-VN", "2026-11-01T10:00:00+08:00", ""},
		{"2026-11-01T10:00:00.5Z", "vi-VN", "2026-11-01T10:00:00Z", ""},
		{"2026-11-01 10:00", "vi-VN", "2026-11-01T10:00:00+07:00", ""},
		{"2026-11-01T10:00", "en-US", "2026-11-01T10:00:00+07:00", ""},
		{"2026-11-01 10:00:30", "zh-CN", "2026-11-01T10:00:30+07:00", ""},
		{"2026-11-01 10:00:30 +0800", "zh-CN", "2026-11-01T10:00:30+08:00", ""},
		{"2026-11-01 10:00Z", "zh-CN", "2026-11-01T10:00:00Z", ""},
		{"2026-11-01 10:00-05:30", "zh-CN", "2026-11-01T10:00:00-05:30", ""},
		{"2026-11-01", "vi-VN", "2026-11-01T00:00:00+07:00", ""},
		{" 2026-11-01 ", "", "2026-11-01T00:00:00+07:00", ""},
		{"01/11/2026 10:00", "vi-VN", "2026-11-01T10:00:00+07:00", ""},
		{"1/11/2026", "vi", "2026-11-01T00:00:00+07:00", ""},
		{"01/11/2026 10:00", "en-GB", "2026-11-01T10:00:00+07:00", ""},
		{"11/01/2026 10:00", "en-US", "2026-11-01T10:00:00+07:00", ""},
		{"11/01/2026 10:00 PM", "en-US", "2026-11-01T22:00:00+07:00", ""},
		{"11/01/2026 12:00 am", "en-US", "2026-11-01T00:00:00+07:00", ""},
		{"2026年11月1日 10:00", "zh-CN", "2026-11-01T10:00:00+07:00", ""},
		{"2026年11月1日10:00", "zh-CN", "2026-11-01T10:00:00+07:00", ""},
		{"2026/11/01 10:00", "zh-CN", "2026-11-01T10:00:00+07:00", ""},
		{"２０２６－１１－０１　１０：００", "zh-CN", "2026-11-01T10:00:00+07:00", ""},
		{"01/11/2026", "xx", "", "day and month order unknown"},
		{"31/11/2026", "vi-VN", "", "day 31 is not in month 11"},
		{"2026-13-01", "vi-VN", "", "month 13 out of range"},
		{"2026-11-01 24:00", "vi-VN", "", "not a time of day"},
		{"2026-11-01 13:00 PM", "en-US", "", "hour 13 with pm"},
		{"2026-11-0110:00", "vi-VN", "", "no space between date and time"},
		{"yesterday", "en-US", "", "accepted: 2026-11-01T10:00:00+08:00"},
		{"yesterday", "vi-VN", "", "01/11/2026 10:00 (day first)"},
		{"", "vi-VN", "", "not a recognised form"},
		{"\xff", "vi-VN", "", "not a recognised form"},
	}
	for _, tt := range tests {
		got, err := norm.ParseTime(tt.in, tt.locale, ict)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ParseTime(%q, %q) error %v", tt.in, tt.locale, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ParseTime(%q, %q) error %v, want one containing %q", tt.in, tt.locale, err, tt.wantErr)
		case tt.wantErr == "" && got.Format(time.RFC3339) != tt.want:
			t.Errorf("ParseTime(%q, %q)=%s, want %s", tt.in, tt.locale, got.Format(time.RFC3339), tt.want)
		}
	}
}

func TestParseTimeNilLocation(t *testing.T) {
	got, err := norm.ParseTime("2026-11-01 10:00", "vi-VN", nil)
	if want := "2026-11-01T10:00:00Z"; err != nil || got.Format(time.RFC3339) != want {
		t.Fatalf("ParseTime(%q)=%s, %v, want %s", "2026-11-01 10:00", got.Format(time.RFC3339), err, want)
	}
}

func TestFindDateTimes(t *testing.T) {
	// "Text y-m-d h:m", with 0 and -1 for what is unknown.
	mention := func(m norm.DateTimeMention) string {
		return fmt.Sprintf("%s %d-%d-%d %d:%d", m.Text, m.Year, m.Month, m.Day, m.Hour, m.Minute)
	}
	tests := []struct {
		text, locale string
		want         []string
	}{
		{"Chị đặt lúc 10:05 ngày 01/11 đúng không", "vi-VN", []string{"10:05 ngày 01/11 0-11-1 10:5"}},
		{"10h05 ngày 1/11/2026", "vi-VN", []string{"10h05 ngày 1/11/2026 2026-11-1 10:5"}},
		{"ngày 01/11 lúc 10:05", "vi-VN", []string{"01/11 lúc 10:05 0-11-1 10:5"}},
		{"giao lúc 3h chiều ngày 1 tháng 11 năm 2026", "vi-VN", []string{"3h chiều ngày 1 tháng 11 năm 2026 2026-11-1 15:0"}},
		{"10 giờ 5 phút", "vi-VN", []string{"10 giờ 5 phút 0-0-0 10:5"}},
		{"2026-11-01 10:05", "vi-VN", []string{"2026-11-01 10:05 2026-11-1 10:5"}},
		{"2026-11-01T10:05:00+08:00", "en-US", []string{"2026-11-01T10:05:00 2026-11-1 10:5"}},
		{"2026年11月1日10:05下单", "zh-CN", []string{"2026年11月1日10:05 2026-11-1 10:5"}},
		{"您在11月1日 10点05分下单", "zh-CN", []string{"11月1日 10点05分 0-11-1 10:5"}},
		{"１１月１号下午３点半", "zh-CN", []string{"１１月１号下午３点半 0-11-1 15:30"}},
		{"2026/11/01", "zh-CN", []string{"2026/11/01 2026-11-1 -1:-1"}},
		{"on Nov 1 at 10:05 you ordered", "en-US", []string{"Nov 1 at 10:05 0-11-1 10:5"}},
		{"on November 1st, 2026", "en-US", []string{"November 1st, 2026 2026-11-1 -1:-1"}},
		{"on 1 Nov 2026 at 3pm", "en-GB", []string{"1 Nov 2026 at 3pm 2026-11-1 15:0"}},
		{"11/01 10:05 AM", "en-US", []string{"11/01 10:05 AM 0-11-1 10:5"}},
		{"11/01 10:05 AM", "vi-VN", []string{"11/01 10:05 AM 0-1-11 10:5"}},
		{"01.11.2026 and 01-11-2026", "vi-VN", []string{"01.11.2026 2026-11-1 -1:-1", "01-11-2026 2026-11-1 -1:-1"}},
		{"date alone 1/11/26", "vi-VN", []string{"1/11/26 2026-11-1 -1:-1"}},
		{"time alone at 23:59", "en-US", []string{"23:59 0-0-0 23:59"}},
		{"10h 1/11", "vi-VN", []string{"10h 1/11 0-11-1 10:0"}},
		{"10:00-10:30", "vi-VN", []string{"10:00 0-0-0 10:0", "10:30 0-0-0 10:30"}},
		// A bare hour counts only next to a date.
		{"10h ngày 1/11, giao trong 24h, 2h nữa", "vi-VN", []string{"10h ngày 1/11 0-11-1 10:0"}},
		{"10点 11月1日", "zh-CN", []string{"10点 11月1日 0-11-1 10:0"}},
		{"3点", "zh-CN", nil},
		// Numbers that are not dates or times.
		{"1.250.000đ 0912.345.678 v1.2.3 10.05 10-05", "vi-VN", nil},
		{"31/02 32/1 29/02/2027 12:60 25:00 13:00 pm", "vi-VN", nil},
		{"01/11/2026", "xx", nil}, // unknown order
		{"mayor 5 decimal 3", "en-US", nil},
		{"\xff10:05\xfe", "vi-VN", []string{"10:05 0-0-0 10:5"}},
		{"", "vi-VN", nil},
	}
	for _, tt := range tests {
		got := norm.FindDateTimes(tt.text, tt.locale)
		var ms []string
		for _, m := range got {
			if m.Text != tt.text[m.Start:m.End] {
				t.Errorf("FindDateTimes(%q): Text=%q, want %q", tt.text, m.Text, tt.text[m.Start:m.End])
			}
			ms = append(ms, mention(m))
		}
		if strings.Join(ms, "|") != strings.Join(tt.want, "|") {
			t.Errorf("FindDateTimes(%q, %q)=%q, want %q", tt.text, tt.locale, ms, tt.want)
		}
	}
}

var locales = []string{"vi-VN", "zh-CN", "en-US", "en-GB", ""}

func FuzzFindDateTimes(f *testing.F) {
	for i, s := range append(readLines(f, "datetimes.txt"), readFile(f, "mixed.txt")) {
		f.Add(s, uint8(i))
	}
	f.Fuzz(func(t *testing.T, text string, l uint8) {
		locale := locales[int(l)%len(locales)]
		end := 0
		for _, m := range norm.FindDateTimes(text, locale) {
			if m.Start < end || m.Start >= m.End || m.End > len(text) {
				t.Fatalf("FindDateTimes(%q, %q): mention %+v out of order or bounds", text, locale, m)
			}
			end = m.End
			if m.Text != text[m.Start:m.End] {
				t.Fatalf("FindDateTimes(%q, %q): Text=%q, want %q", text, locale, m.Text, text[m.Start:m.End])
			}
			if m.Month < 0 || m.Month > 12 || m.Day < 0 || m.Day > 31 || (m.Month == 0) != (m.Day == 0) ||
				m.Hour < -1 || m.Hour > 23 || m.Minute < -1 || m.Minute > 59 || (m.Hour < 0) != (m.Minute < 0) ||
				m.Month == 0 && m.Hour < 0 {
				t.Fatalf("FindDateTimes(%q, %q): fields out of range in %+v", text, locale, m)
			}
		}
		// ParseTime reads the same kind of input; it must not panic.
		if _, err := norm.ParseTime(text, locale, time.UTC); err != nil && !strings.HasPrefix(err.Error(), "time ") {
			t.Fatalf("ParseTime(%q) error %v, want a time-prefixed error", text, err)
		}
	})
}
