package norm

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/norm/internal/ref"
)

var (
	refRegions = []string{"VN", "CN", "US", " vn ", ""}
	refLocales = []string{"vi-VN", "zh-CN", "en-US", "en-GB", "xx", ""}
)

// checkAgainstRef runs every function of the package on text, and every
// method of a Scan of it, and fails unless each gives what the frozen
// reference gives.
// refPhoneCache is shared by every check, as a Matcher shares one across
// the mail it reads.
var refPhoneCache = NewPhoneCache()

func checkAgainstRef(t *testing.T, text string) {
	t.Helper()
	same := func(what string, got, want any) {
		t.Helper()
		if g, w := fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want); g != w {
			t.Fatalf("%s(%q):\n got %s\nwant %s", what, text, g, w)
		}
	}
	sc := NewScan(text)
	same("Fold", Fold(text), ref.Fold(text))
	same("Scan.Text", sc.Text(), text)
	for _, region := range refRegions {
		want := ref.FindPhones(text, region)
		same("FindPhones/"+region, FindPhones(text, region), want)
		same("Scan.Phones/"+region, sc.Phones(region), want)
		// A shared cache answers the second time as phonenumbers did the first.
		for range 2 {
			same("Scan.PhonesCached/"+region, sc.PhonesCached(region, refPhoneCache), want)
		}
		e, err := PhoneE164(text, region)
		re, rerr := ref.PhoneE164(text, region)
		same("PhoneE164/"+region, fmt.Sprint(e, err), fmt.Sprint(re, rerr))
	}
	want := ref.FindPrices(text)
	same("FindPrices", FindPrices(text), want)
	same("Scan.Prices", sc.Prices(), want)
	p, err := ParsePrice(text)
	rp, rerr := ref.ParsePrice(text)
	same("ParsePrice", fmt.Sprint(p, err), fmt.Sprint(rp, rerr))
	ict := time.FixedZone("ICT", 7*3600)
	for _, locale := range refLocales {
		want := ref.FindDateTimes(text, locale)
		same("FindDateTimes/"+locale, FindDateTimes(text, locale), want)
		same("Scan.DateTimes/"+locale, sc.DateTimes(locale), want)
		var full []ref.DateTimeMention
		for _, dm := range want {
			if dm.Month > 0 && dm.Day > 0 && dm.Hour >= 0 && dm.Minute >= 0 {
				full = append(full, dm)
			}
		}
		same("Scan.DatesWithTimes/"+locale, sc.DatesWithTimes(locale), full)
		if ts := findTimes(sc.st.s, sc.st.runs); len(ts) > 0 && !mayHoldTime(sc.st.s, sc.st.runs) {
			t.Fatalf("mayHoldTime(%q) = false, but findTimes finds %v", text, ts)
		}
		tm, err := ParseTime(text, locale, ict)
		rtm, rerr := ref.ParseTime(text, locale, ict)
		same("ParseTime/"+locale, fmt.Sprint(tm.Format(time.RFC3339Nano), err), fmt.Sprint(rtm.Format(time.RFC3339Nano), rerr))
	}
}

// refSeeds are scanSeeds, the benchmark's mails, and texts dense with
// numbers in every form the finders read.
func refSeeds(tb testing.TB) []string {
	seeds := scanSeeds(tb)
	seeds = append(seeds,
		"Gọi +84 912 345 678 hoặc 0912.345.678, (028) 3812 3456, 0912***678, 138****5678, +84 91x xxx 678",
		"đơn 1.250.000đ, 30k đ, 68 nghìn, 1,5 triệu, ¥68.50, 68元5角3分, US$12.99, 12,99 €, 312.000d 50kd 5d",
		"10:05 ngày 01/11, 2026-11-01T10:05:00+08:00, 11月1日 下午3点半, Nov 1 at 10:05, 1st November 2026, 10h 1/11",
		"Tổng：￥６８．５０，谢谢 电话：（＋８６）１３８－００１３－８０００ １１月１号下午３点半",
		"2610000007VN 240512091234567812 0912345678-0987654321 12.345.678.901.234 v1.2.3 $1 $ 1 1$ ¥ 5",
		strings.Repeat("0912 345 678 ", 50)+strings.Repeat("1.000đ ", 50)+strings.Repeat("10:05 01/11 ", 50),
	)
	return seeds
}

func TestAgainstRef(t *testing.T) {
	for _, s := range refSeeds(t) {
		checkAgainstRef(t, s)
	}
}

func FuzzAgainstRef(f *testing.F) {
	for _, s := range refSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkAgainstRef(t, text)
	})
}
