package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/leaktrace/leaktrace/attribution"
)

func planCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "plan",
		Usage: "design the orders of a new investigation so that every party can be told apart",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "platforms", Required: true, EnvVars: []string{"LEAKTRACE_PLATFORMS"}, Usage: "comma-separated"},
			&cli.StringFlag{Name: "merchants", Required: true, EnvVars: []string{"LEAKTRACE_MERCHANTS"}, Usage: "comma-separated"},
			&cli.StringFlag{Name: "couriers", Required: true, EnvVars: []string{"LEAKTRACE_COURIERS"}, Usage: "comma-separated"},
			&cli.IntFlag{Name: "orders", Required: true, EnvVars: []string{"LEAKTRACE_ORDERS"}, Usage: "budget of orders"},
			&cli.IntFlag{Name: "phones", EnvVars: []string{"LEAKTRACE_PHONES"}, Usage: "budget of pool numbers (default: no limit)"},
			&cli.Float64Flag{Name: "leak-rate", Value: 0.2, EnvVars: []string{"LEAKTRACE_LEAK_RATE"}, Usage: "leak rate the detection power is computed for"},
			&cli.Float64Flag{Name: "background", Value: 0.02, EnvVars: []string{"LEAKTRACE_BACKGROUND"}, Usage: "share of orders contacted at random, assumed"},
			&cli.IntFlag{Name: "simultaneous", Value: 2, EnvVars: []string{"LEAKTRACE_SIMULTANEOUS"}, Usage: "how many parties may leak at once (d)"},
			&cli.IntFlag{Name: "trials", Value: 100, EnvVars: []string{"LEAKTRACE_TRIALS"}, Usage: "simulated investigations per party for the power"},
			&cli.StringFlag{Name: "investigation", Value: "NAME", EnvVars: []string{"LEAKTRACE_INVESTIGATION"}, Usage: "investigation name written into --out"},
			&cli.StringFlag{Name: "out", EnvVars: []string{"LEAKTRACE_OUT"}, Usage: "write the design in the `orders import` format to this file"},
			&cli.Uint64Flag{Name: "seed", Value: 1, EnvVars: []string{"LEAKTRACE_SEED"}},
		},
		Action: func(c *cli.Context) error {
			split := func(s string) []string {
				var out []string
				for _, f := range strings.Split(s, ",") {
					if f = strings.TrimSpace(f); f != "" {
						out = append(out, f)
					}
				}
				return out
			}
			plan, err := attribution.MakePlan(attribution.PlanRequest{
				Platforms: split(c.String("platforms")), Merchants: split(c.String("merchants")), Couriers: split(c.String("couriers")),
				Orders: c.Int("orders"), Phones: c.Int("phones"), LeakRate: c.Float64("leak-rate"), Background: c.Float64("background"),
				Simultaneous: c.Int("simultaneous"), Trials: c.Int("trials"), Seed: c.Uint64("seed")})
			if err != nil {
				return err
			}
			if out := c.String("out"); out != "" {
				f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if err != nil {
					return fmt.Errorf("write plan: %w (the file must not exist yet)", err)
				}
				werr := writeJSON(f, map[string]any{"investigation": c.String("investigation"), "orders": plan.Orders})
				if err := f.Close(); werr == nil {
					werr = err
				}
				if werr != nil {
					return fmt.Errorf("write plan %s: %w", out, werr)
				}
			}
			if c.Bool("json") {
				return writeJSON(e.stdout, plan)
			}
			printPlan(e, plan, c)
			return nil
		},
	}
}

func printPlan(e *env, plan *attribution.Plan, c *cli.Context) {
	w := e.stdout
	fmt.Fprintf(w, "Plan: %d orders over %d paths (platform → merchant → courier), %d pool numbers needed\n\n", len(plan.Orders), plan.Combos, plan.PhonesNeeded)
	t := &table{}
	t.add("PARTY", "KIND", "ORDERS", "TOLD APART?", fmt.Sprintf("POWER AT q=%.2f", plan.LeakRate), "FALSE ALARMS")
	for _, p := range plan.Parties {
		apart := "yes"
		switch {
		case len(p.Twins) > 0:
			apart = "NO: same orders as " + strings.Join(p.Twins, ", ")
		case len(p.CoveredBy) > 0:
			apart = "yes, unless " + strings.Join(p.CoveredBy, " and ") + " leak too"
		}
		t.add(p.Party, p.Kind, fmt.Sprint(p.Orders), apart, fmt.Sprintf("%.0f%%", 100*p.Power), fmt.Sprintf("%.0f%%", 100*p.FalseAlarm))
	}
	t.write(w)
	for _, n := range plan.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	fmt.Fprintf(w, "\nPower: the share of %d simulated investigations (background %.0f%%) in which that party, leaking alone, is found leaked.\n", c.Int("trials"), 100*plan.Background)
	fmt.Fprintln(w, "Every order also registers its tracking number in the courier's app with a fresh email once shipped:")
	fmt.Fprintln(w, "  leaktrace order expose REF --field \"courier app email\" --kind email --to COURIER")
	if c.String("out") != "" {
		fmt.Fprintf(w, "The design is in %s: set its investigation name and run `leaktrace orders import %s`.\n", c.String("out"), c.String("out"))
	} else {
		fmt.Fprintln(w, "Write it for `orders import` with --out FILE.")
	}
}
