package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/leaktrace/leaktrace/attribution"
	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/sqlite"
)

func attributeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "attribute",
		Usage: "who could have leaked each contact, and what the evidence says of each party",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "investigation", EnvVars: []string{"LEAKTRACE_INVESTIGATION"}, Usage: "one investigation (default: all)"},
			&cli.BoolFlag{Name: "all", EnvVars: []string{"LEAKTRACE_ALL"}, Usage: "fit across every investigation (the default without --investigation)"},
			&cli.DurationFlag{Name: "min-observation", Value: 30 * 24 * time.Hour, EnvVars: []string{"LEAKTRACE_MIN_OBSERVATION"}, Usage: "how long an order must have been exposed before silence counts"},
			&cli.Float64Flag{Name: "alpha", Value: 0.05, EnvVars: []string{"LEAKTRACE_ALPHA"}, Usage: "family-wise error rate of statistical verdicts (Holm)"},
			&cli.IntFlag{Name: "days", Value: 30, EnvVars: []string{"LEAKTRACE_DAYS"}, Usage: "window for the share of orders contacted"},
			&cli.BoolFlag{Name: "timeline", EnvVars: []string{"LEAKTRACE_TIMELINE"}, Usage: "add a timeline per order"},
		},
		Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
			if c.Bool("all") && c.String("investigation") != "" {
				return canary.Invalidf("give --investigation or --all, not both")
			}
			if a := c.Float64("alpha"); a <= 0 || a >= 1 {
				return canary.Invalidf("--alpha %v: give a level between 0 and 1, such as 0.05", a)
			}
			if c.Int("days") <= 0 {
				return canary.Invalidf("--days must be at least 1")
			}
			rep, err := e.attribute(c.Context, db, attribution.Input{Investigation: c.String("investigation"), Now: e.now(),
				MinObservation: c.Duration("min-observation"), Alpha: c.Float64("alpha"), Days: c.Int("days"), Timelines: c.Bool("timeline")})
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeReportJSON(e.stdout, rep)
			}
			printReport(e.stdout, rep)
			return nil
		}),
	}
}

// attribute loads everything the report needs and runs attribution. in
// carries the options; its data fields are filled here.
func (e *env) attribute(ctx context.Context, db *sqlite.DB, in attribution.Input) (*attribution.Report, error) {
	if in.Investigation != "" {
		if _, err := db.Investigation(ctx, in.Investigation); err != nil {
			return nil, err
		}
	}
	var err error
	if in.Parties, err = db.Parties(ctx); err != nil {
		return nil, err
	}
	if in.Orders, err = db.Orders(ctx, in.Investigation); err != nil {
		return nil, err
	}
	// Every token, so a contact's candidates are computed on all it matched
	// even when the report covers one investigation.
	if in.Tokens, err = db.Tokens(ctx, ""); err != nil {
		return nil, err
	}
	if in.Contacts, err = db.ContactsToAttribute(ctx); err != nil {
		return nil, err
	}
	if in.Pool, err = db.Phones(ctx); err != nil {
		return nil, err
	}
	return attribution.Attribute(in), nil
}

func printReport(w io.Writer, rep *attribution.Report) {
	scope := "all investigations"
	if rep.Investigation != "" {
		scope = "investigation " + rep.Investigation
	}
	fmt.Fprintf(w, "Attribution — %s — %d contacts\n\n", scope, len(rep.Contacts))
	t := &table{}
	t.add("PARTY", "KIND", "ORDERS", "CONTACTS", "EXCLUSIVE", "LEAK RATE (95% CI)", "VERDICT")
	for _, p := range rep.Parties {
		v := p.Verdict
		if p.Basis != "" {
			v += " (" + p.Basis + ")"
		}
		if len(p.IndistinguishableFrom) > 0 && p.Verdict == attribution.VerdictIndistinguishable {
			v += " from " + strings.Join(p.IndistinguishableFrom, ", ")
		}
		rate := "-"
		if p.LeakProbability != nil {
			rate = fmt.Sprintf("%.2f (%.2f–%.2f)", *p.LeakProbability, *p.CILow, *p.CIHigh)
		}
		t.add(p.Name, p.Kind, fmt.Sprint(p.OrdersExposed), fmt.Sprint(p.Contacts), fmt.Sprint(p.ExclusiveContacts), rate, v)
	}
	t.write(w)
	fmt.Fprintln(w)
	for _, p := range rep.Parties {
		if p.Verdict != attribution.VerdictNoEvidence {
			fmt.Fprintf(w, "  %s: %s.\n", p.Name, p.Explanation)
			if p.Separate != "" {
				fmt.Fprintf(w, "    To separate them: %s.\n", p.Separate)
			}
		}
	}
	fmt.Fprintf(w, "\nContacts\n\n")
	ct := &table{}
	ct.add("ID", "RECEIVED (UTC)", "CHANNEL", "STATUS", "ORDER", "CANDIDATES", "MATCHED")
	for _, c := range rep.Contacts {
		var m []string
		for _, x := range c.Matched {
			s := x.Field + " by " + x.How
			if x.Partial {
				s += " (partial)"
			}
			m = append(m, s)
		}
		status := c.Status
		if c.Exclusive {
			status += " *"
		}
		if c.Mark != "" && c.Mark != canary.MarkFirstParty {
			status += " [" + c.Mark + "]"
		}
		order := c.Order
		if order == "" && len(c.Orders) > 1 {
			order = strings.Join(c.Orders, "|")
		}
		ct.add(c.ID, c.ReceivedAt.UTC().Format("2006-01-02 15:04"), c.Channel, status, orDash(order),
			orDash(strings.Join(c.Candidates, ", ")), orDash(strings.Join(m, "; ")))
	}
	ct.write(w)
	fmt.Fprintln(w, "\n* exclusive: one candidate, through tokens that cannot be guessed (email tokens, order and tracking numbers).")
	if len(rep.Rates) > 0 {
		fmt.Fprintf(w, "\nShare of orders contacted within %d days of reaching each party\n\n", rep.Rates[0].Days)
		rt := &table{}
		rt.add("PARTY", "KIND", "ORDERS", "CONTACTED", "SHARE (WILSON 95%)", "FIRST CONTACT, DAYS (Q1 / MEDIAN / Q3)")
		for _, r := range rep.Rates {
			share, delay := "-", "-"
			if r.Orders > 0 {
				share = fmt.Sprintf("%.0f%% (%.0f–%.0f%%)", 100*r.Share, 100*r.WilsonLow, 100*r.WilsonHi)
			}
			if r.DelayMedian != nil {
				delay = fmt.Sprintf("%.1f / %.1f / %.1f", *r.DelayQ1, *r.DelayMedian, *r.DelayQ3)
			}
			rt.add(r.Party, r.Kind, fmt.Sprint(r.Orders), fmt.Sprint(r.Contacted), share, delay)
		}
		rt.write(w)
	}
	fmt.Fprintln(w, "\n"+rep.Meaning)
	fmt.Fprintln(w, "How the numbers are made: "+rep.Statistics+".")
}

func verifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "re-check every audit chain link and every raw object's hash",
		Flags: []cli.Flag{&cli.StringFlag{Name: "investigation", EnvVars: []string{"LEAKTRACE_INVESTIGATION"}, Usage: "its chain and the shared one (default: all)"}},
		Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
			progress, end := e.stageProgress("verify")
			rep, err := db.VerifyWithProgress(c.Context, c.String("investigation"), progress)
			end()
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if err := writeJSON(e.stdout, rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(e.stdout, "%d chains, %d entries, %d raw objects, %d evidence and set-up rows checked\n", rep.Chains, rep.Entries, rep.Objects, rep.Rows)
				for _, p := range rep.Problems {
					where := p.Object
					if p.Chain != "" {
						where = fmt.Sprintf("%s #%d", p.Chain, p.Seq)
					}
					fmt.Fprintf(e.stdout, "%s: %s: %s\n", p.Kind, where, p.Detail)
				}
				if rep.OK {
					fmt.Fprintln(e.stdout, "OK: every link, every object, and every row as its entry recorded it")
				}
			}
			if !rep.OK {
				return fmt.Errorf("verification failed: the first problem is %s", describe(rep.Problems))
			}
			return nil
		}),
	}
}

func describe(ps []canary.Problem) string {
	for _, p := range ps {
		if p.Kind != "purged" {
			if p.Chain != "" {
				return fmt.Sprintf("%s at %s entry %d", p.Kind, p.Chain, p.Seq)
			}
			return fmt.Sprintf("%s %s", p.Kind, p.Object)
		}
	}
	return "unknown"
}
