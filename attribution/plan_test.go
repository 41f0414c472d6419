package attribution_test

import (
	"testing"

	"github.com/leaktrace/leaktrace/attribution"
)

func TestPlanSeparatesEveryParty(t *testing.T) {
	plan, err := attribution.MakePlan(attribution.PlanRequest{
		Platforms: []string{"ShopA", "ShopB"}, Merchants: []string{"M1", "M2", "M3"}, Couriers: []string{"C1", "C2"},
		Orders: 120, LeakRate: 0.3, Background: 0.02, Trials: 20, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Orders) != 120 || plan.Combos != 12 {
		t.Fatalf("orders=%d paths=%d, want 120 and 12", len(plan.Orders), plan.Combos)
	}
	for _, p := range plan.Parties {
		if len(p.Twins) > 0 {
			t.Fatalf("%s has twins %v in a full design", p.Party, p.Twins)
		}
		if p.Kind == "courier" && p.Power < 0.5 {
			t.Fatalf("courier %s power=%.2f at leak rate 0.3 with 60 orders each, want at least 0.5", p.Party, p.Power)
		}
	}
	t.Logf("%+v", plan.Parties)
}

func TestPlanNamesWhatItCannotSeparate(t *testing.T) {
	// One merchant that always ships with one courier on one platform: all
	// three are twins, and the plan must say so.
	plan, err := attribution.MakePlan(attribution.PlanRequest{
		Platforms: []string{"ShopA"}, Merchants: []string{"M1"}, Couriers: []string{"C1"},
		Orders: 20, LeakRate: 0.3, Trials: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plan.Parties {
		if len(p.Twins) != 2 {
			t.Fatalf("%s twins=%v, want the other two", p.Party, p.Twins)
		}
	}
	// A phone budget smaller than the paths limits them, and says so.
	plan, err = attribution.MakePlan(attribution.PlanRequest{
		Platforms: []string{"A", "B"}, Merchants: []string{"M1", "M2", "M3"}, Couriers: []string{"C1", "C2", "C3"},
		Orders: 40, Phones: 8, LeakRate: 0.3, Trials: 2, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Combos != 6 || plan.PhonesNeeded != 8 {
		t.Fatalf("paths=%d phones=%d, want 6 and 8", plan.Combos, plan.PhonesNeeded)
	}
}

func TestPlanRejectsBadRequests(t *testing.T) {
	for _, req := range []attribution.PlanRequest{
		{Merchants: []string{"M"}, Couriers: []string{"C"}, Orders: 5, LeakRate: 0.2},
		{Platforms: []string{"P"}, Merchants: []string{"M"}, Couriers: []string{"C"}, Orders: 0, LeakRate: 0.2},
		{Platforms: []string{"P"}, Merchants: []string{"P"}, Couriers: []string{"C"}, Orders: 5, LeakRate: 0.2},
		{Platforms: []string{"P"}, Merchants: []string{"M"}, Couriers: []string{"C"}, Orders: 5, LeakRate: 2},
	} {
		if _, err := attribution.MakePlan(req); err == nil {
			t.Fatalf("MakePlan(%+v) succeeded, want an error", req)
		}
	}
}
