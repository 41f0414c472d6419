package canary_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leaktrace/leaktrace/canary"
)

var (
	tAccount = time.Date(2026, 10, 30, 9, 0, 0, 0, time.UTC)
	tPlaced  = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	tShipped = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
)

func fullPath() canary.Path {
	return canary.Path{Platform: "ShopA", Merchant: "Lens Pharmacy", Courier: "FastExpress", Outlet: "FE Depot 7",
		Times: map[canary.Stage]time.Time{canary.StageAccount: tAccount, canary.StagePlaced: tPlaced, canary.StageShipped: tShipped}}
}

// seenBy returns the parties a field reaches over an order's whole life, sorted.
func seenBy(f canary.Field, p canary.Path) []string {
	var out []string
	for _, st := range []canary.Stage{canary.StageAccount, canary.StagePlaced, canary.StageShipped} {
		for _, e := range f.ExposuresAt(p, st) {
			if !slices.Contains(out, e.Party) {
				out = append(out, e.Party)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestTemplateMatchesSpec checks the default template against SPEC.md's table.
func TestTemplateMatchesSpec(t *testing.T) {
	all := "FE Depot 7,FastExpress,Lens Pharmacy,ShopA"
	for _, tc := range []struct {
		field   string
		payment string
		kind    canary.TokenKind
		want    string
	}{
		{canary.FieldAccountEmail, "", canary.TokenEmail, "ShopA"},
		{canary.FieldAccountPhone, "", canary.TokenPhone, "ShopA"},
		{canary.FieldAccountName, "", canary.TokenName, "Lens Pharmacy,ShopA"},
		{canary.FieldChatEmail, "", canary.TokenEmail, "Lens Pharmacy,ShopA"},
		{canary.FieldShippingName, "", canary.TokenName, all},
		{canary.FieldShippingPhone, "", canary.TokenPhone, all},
		{canary.FieldShippingAddr, "", canary.TokenAddress, all},
		{canary.FactItem, canary.PaymentPrepaid, canary.TokenFact, "Lens Pharmacy,ShopA"},
		{canary.FactPrice, canary.PaymentPrepaid, canary.TokenFact, "Lens Pharmacy,ShopA"},
		{canary.FactPlacedAt, canary.PaymentPrepaid, canary.TokenFact, "Lens Pharmacy,ShopA"},
		{canary.FactItem, canary.PaymentCOD, canary.TokenFact, all},
		{canary.FactPrice, canary.PaymentCOD, canary.TokenFact, all},
		{canary.FactPlacedAt, canary.PaymentCOD, canary.TokenFact, all},
		{canary.FactOrderNo, canary.PaymentPrepaid, canary.TokenFact, all},
		{canary.FactOrderNo, canary.PaymentCOD, canary.TokenFact, all},
		{canary.FactTracking, canary.PaymentPrepaid, canary.TokenFact, all},
		{canary.FactWeight, canary.PaymentPrepaid, canary.TokenFact, all},
		// A fact the template does not know is treated as printed on the label.
		{"colour", canary.PaymentPrepaid, canary.TokenFact, all},
	} {
		t.Run(tc.field+"/"+tc.payment, func(t *testing.T) {
			var f canary.Field
			if tc.kind == canary.TokenFact {
				f = canary.FactField(tc.field, tc.payment)
				if f.Name != tc.field {
					t.Fatalf("FactField(%q).Name=%q, want %q", tc.field, f.Name, tc.field)
				}
			} else {
				var ok bool
				if f, ok = canary.TemplateField(tc.field); !ok {
					t.Fatalf("TemplateField(%q) not found", tc.field)
				}
			}
			if f.Kind != tc.kind {
				t.Fatalf("Kind=%q, want %q", f.Kind, tc.kind)
			}
			if f.Where == "" {
				t.Fatalf("Where is empty: the order sheet needs it")
			}
			if got := strings.Join(seenBy(f, fullPath()), ","); got != tc.want {
				t.Fatalf("seen by=%q, want %q", got, tc.want)
			}
		})
	}
}

func TestFactFieldCourierOnCOD(t *testing.T) {
	p := fullPath()
	has := func(f canary.Field, party string) bool { return slices.Contains(seenBy(f, p), party) }
	if !has(canary.FactField(canary.FactPrice, canary.PaymentCOD), "FastExpress") {
		t.Fatalf("FactField(price, cod) is not shown to the courier")
	}
	if has(canary.FactField(canary.FactPrice, canary.PaymentPrepaid), "FastExpress") {
		t.Fatalf("FactField(price, prepaid) is shown to the courier")
	}
	if !has(canary.FactField(canary.FactOrderNo, canary.PaymentPrepaid), "FastExpress") {
		t.Fatalf("FactField(order_no, prepaid) is not on the label")
	}
}

func TestUniqueFact(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want bool
	}{{canary.FactOrderNo, true}, {canary.FactTracking, true}, {canary.FactItem, false}, {canary.FactPrice, false},
		{canary.FactPlacedAt, false}, {canary.FactWeight, false}, {"", false}} {
		if got := canary.UniqueFact(tc.key); got != tc.want {
			t.Fatalf("UniqueFact(%q)=%v, want %v", tc.key, got, tc.want)
		}
	}
}

func TestTemplateFieldUnknown(t *testing.T) {
	if _, ok := canary.TemplateField("courier app email"); ok {
		t.Fatalf("TemplateField(courier app email) found, want not found")
	}
	if _, ok := canary.TemplateField(canary.FactPrice); ok {
		t.Fatalf("TemplateField(price) found: facts are not template fields")
	}
}

func TestExposuresAt(t *testing.T) {
	f, _ := canary.TemplateField(canary.FieldShippingPhone)
	for _, tc := range []struct {
		name  string
		path  canary.Path
		stage canary.Stage
		want  []canary.Exposure
	}{
		{"placed", fullPath(), canary.StagePlaced, []canary.Exposure{
			{Party: "ShopA", Field: f.Name, Quality: canary.QualityFull, ExposedAt: tPlaced},
			{Party: "Lens Pharmacy", Field: f.Name, Quality: canary.QualityFull, ExposedAt: tPlaced}}},
		{"shipped", fullPath(), canary.StageShipped, []canary.Exposure{
			{Party: "FastExpress", Field: f.Name, Quality: canary.QualityFull, ExposedAt: tShipped},
			{Party: "FE Depot 7", Field: f.Name, Quality: canary.QualityFull, ExposedAt: tShipped}}},
		{"account stage shows nothing", fullPath(), canary.StageAccount, nil},
		{"no merchant, no outlet", canary.Path{Platform: "ShopA", Courier: "FastExpress",
			Times: map[canary.Stage]time.Time{canary.StageShipped: tShipped}}, canary.StageShipped, []canary.Exposure{
			{Party: "FastExpress", Field: f.Name, Quality: canary.QualityFull, ExposedAt: tShipped}}},
		{"not shipped yet", canary.Path{Platform: "ShopA", Merchant: "M"}, canary.StageShipped, nil},
		{"self-operated shop is one party", canary.Path{Platform: "ShopA", Merchant: "ShopA",
			Times: map[canary.Stage]time.Time{canary.StagePlaced: tPlaced}}, canary.StagePlaced, []canary.Exposure{
			{Party: "ShopA", Field: f.Name, Quality: canary.QualityFull, ExposedAt: tPlaced}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := f.ExposuresAt(tc.path, tc.stage)
			if len(got) != len(tc.want) {
				t.Fatalf("ExposuresAt=%+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("ExposuresAt[%d]=%+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestPathOf(t *testing.T) {
	o := &canary.Order{Platform: "ShopA", Merchant: "M", Courier: "C", Outlet: "O", PlacedAt: tPlaced, ShippedAt: tShipped}
	p := canary.PathOf(o, tAccount)
	for _, tc := range []struct {
		role canary.Role
		want string
	}{{canary.RolePlatform, "ShopA"}, {canary.RoleMerchant, "M"}, {canary.RoleCourier, "C"}, {canary.RoleOutlet, "O"}, {"nobody", ""}} {
		if got := p.Party(tc.role); got != tc.want {
			t.Fatalf("Party(%q)=%q, want %q", tc.role, got, tc.want)
		}
	}
	for st, want := range map[canary.Stage]time.Time{canary.StageAccount: tAccount, canary.StagePlaced: tPlaced, canary.StageShipped: tShipped} {
		if got := p.Times[st]; !got.Equal(want) {
			t.Fatalf("Times[%s]=%v, want %v", st, got, want)
		}
	}
}

func TestOrderStage(t *testing.T) {
	for _, tc := range []struct {
		o    canary.Order
		want string
	}{
		{canary.Order{}, "created"},
		{canary.Order{PlacedAt: tPlaced}, "placed"},
		{canary.Order{PlacedAt: tPlaced, ShippedAt: tShipped}, "shipped"},
		{canary.Order{AbandonedAt: tPlaced}, "abandoned"},
	} {
		if got := tc.o.Stage(); got != tc.want {
			t.Fatalf("Stage()=%q, want %q", got, tc.want)
		}
	}
}

func TestTokenSeenBy(t *testing.T) {
	tok := canary.Token{Exposures: []canary.Exposure{
		{Party: "ShopA", Quality: canary.QualityFull, ExposedAt: tPlaced},
		{Party: "Lens Pharmacy", Quality: canary.QualityMasked, ExposedAt: tPlaced},
		{Party: "FastExpress", Quality: canary.QualityFull, ExposedAt: tShipped},
		{Party: "SPX", Quality: canary.QualityVirtual, ExposedAt: tShipped},
	}}
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Time{}, "ShopA,FastExpress"},
		{tShipped, "ShopA,FastExpress"},
		{tShipped.Add(-time.Second), "ShopA"},
		{tPlaced.Add(-time.Second), ""},
	} {
		if got := strings.Join(tok.SeenBy(tc.at), ","); got != tc.want {
			t.Fatalf("SeenBy(%v)=%q, want %q", tc.at, got, tc.want)
		}
	}
}

func TestValidators(t *testing.T) {
	for _, k := range canary.PartyKinds {
		if !canary.ValidPartyKind(k) {
			t.Fatalf("ValidPartyKind(%q)=false", k)
		}
	}
	for _, l := range canary.Locales {
		if !canary.ValidLocale(l) {
			t.Fatalf("ValidLocale(%q)=false", l)
		}
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"party kind shop", canary.ValidPartyKind("shop")},
		{"party kind empty", canary.ValidPartyKind("")},
		{"locale fr", canary.ValidLocale("fr-FR")},
		{"token kind url", canary.ValidTokenKind("url")},
		{"channel fax", canary.ValidChannel("fax")},
		{"mark spam", canary.ValidMark("spam")},
	} {
		if tc.ok {
			t.Fatalf("%s is valid, want invalid", tc.name)
		}
	}
	for _, k := range []canary.TokenKind{canary.TokenEmail, canary.TokenPhone, canary.TokenName, canary.TokenAddress, canary.TokenFact} {
		if !canary.ValidTokenKind(k) {
			t.Fatalf("ValidTokenKind(%q)=false", k)
		}
	}
	for _, m := range []string{canary.MarkFirstParty, canary.MarkScam, canary.MarkIgnore} {
		if !canary.ValidMark(m) {
			t.Fatalf("ValidMark(%q)=false", m)
		}
	}
}

func TestLocaleDefaults(t *testing.T) {
	for _, tc := range []struct{ locale, region, code, zone string }{
		{canary.LocaleVietnam, "VN", "+84", "Asia/Ho_Chi_Minh"},
		{canary.LocaleChina, "CN", "+86", "Asia/Shanghai"},
		{canary.LocaleUS, "US", "+1", "America/New_York"},
	} {
		if got := canary.Region(tc.locale); got != tc.region {
			t.Fatalf("Region(%s)=%q, want %q", tc.locale, got, tc.region)
		}
		if got := canary.CallingCode(tc.locale); got != tc.code {
			t.Fatalf("CallingCode(%s)=%q, want %q", tc.locale, got, tc.code)
		}
		if got := canary.DefaultTimeZone(tc.locale); got != tc.zone {
			t.Fatalf("DefaultTimeZone(%s)=%q, want %q", tc.locale, got, tc.zone)
		}
		inv := canary.Investigation{TimeZone: tc.zone}
		if got := inv.Location().String(); got != tc.zone {
			t.Fatalf("Location()=%q, want %q", got, tc.zone)
		}
	}
	if got := (&canary.Investigation{TimeZone: "Mars/Olympus"}).Location(); got != time.UTC {
		t.Fatalf("Location() of a bad zone=%v, want UTC", got)
	}
}
