package main

import (
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
			&cli.DurationFlag{Name: "min-observation", Value: 30 * 24 * time.Hour, EnvVars: []string{"LEAKTRACE_MIN_OBSERVATION"}, Usage: "how long an order must have been exposed before silence counts"},
		},
		Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
			rep, err := e.attribute(c, db, c.String("investigation"), c.Duration("min-observation"))
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(e.stdout, rep)
			}
			printReport(e.stdout, rep)
			return nil
		}),
	}
}

func (e *env) attribute(c *cli.Context, db *sqlite.DB, investigation string, minObs time.Duration) (*attribution.Report, error) {
	if investigation != "" {
		if _, err := db.Investigation(c.Context, investigation); err != nil {
			return nil, err
		}
	}
	parties, err := db.Parties(c.Context)
	if err != nil {
		return nil, err
	}
	orders, err := db.Orders(c.Context, investigation)
	if err != nil {
		return nil, err
	}
	// Every token, so a contact's candidates are computed on all it matched
	// even when the report covers one investigation.
	tokens, err := db.Tokens(c.Context, "")
	if err != nil {
		return nil, err
	}
	contacts, err := db.Contacts(c.Context)
	if err != nil {
		return nil, err
	}
	return attribution.Attribute(attribution.Input{Investigation: investigation, Parties: parties, Orders: orders,
		Tokens: tokens, Contacts: contacts, Now: e.now(), MinObservation: minObs}), nil
}

func printReport(w io.Writer, rep *attribution.Report) {
	scope := "all investigations"
	if rep.Investigation != "" {
		scope = "investigation " + rep.Investigation
	}
	fmt.Fprintf(w, "Attribution — %s — %d contacts\n\n", scope, len(rep.Contacts))
	t := &table{}
	t.add("PARTY", "KIND", "ORDERS", "CONTACTS", "EXCLUSIVE", "VERDICT")
	for _, p := range rep.Parties {
		v := p.Verdict
		if p.Basis != "" {
			v += " (" + p.Basis + ")"
		}
		if len(p.IndistinguishableFrom) > 0 && p.Verdict == attribution.VerdictIndistinguishable {
			v += " from " + strings.Join(p.IndistinguishableFrom, ", ")
		}
		t.add(p.Name, p.Kind, fmt.Sprint(p.OrdersExposed), fmt.Sprint(p.Contacts), fmt.Sprint(p.ExclusiveContacts), v)
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
	fmt.Fprintln(w, "\n"+rep.Meaning)
	fmt.Fprintln(w, "Not yet in this version: "+rep.Statistics+".")
}

func verifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "re-check every audit chain link and every raw object's hash",
		Flags: []cli.Flag{&cli.StringFlag{Name: "investigation", EnvVars: []string{"LEAKTRACE_INVESTIGATION"}, Usage: "its chain and the shared one (default: all)"}},
		Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
			rep, err := db.Verify(c.Context, c.String("investigation"))
			if err != nil {
				return err
			}
			if c.Bool("json") {
				if err := writeJSON(e.stdout, rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(e.stdout, "%d chains, %d entries, %d raw objects checked\n", rep.Chains, rep.Entries, rep.Objects)
				for _, p := range rep.Problems {
					where := p.Object
					if p.Chain != "" {
						where = fmt.Sprintf("%s #%d", p.Chain, p.Seq)
					}
					fmt.Fprintf(e.stdout, "%s: %s: %s\n", p.Kind, where, p.Detail)
				}
				if rep.OK {
					fmt.Fprintln(e.stdout, "OK: every link and every object checks out")
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
