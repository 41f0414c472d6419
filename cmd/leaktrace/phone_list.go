package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/norm"
	"github.com/leaktrace/leaktrace/sqlite"
)

// phoneState is where a pool number is in its life: quarantine (measuring
// the noise it carries), free, in use, or retired for good.
func phoneState(p canary.Phone, now time.Time) string {
	switch {
	case !p.RetiredAt.IsZero():
		return "retired"
	case now.Before(p.QuarantineUntil):
		return "quarantine until " + p.QuarantineUntil.Format(time.DateOnly)
	case p.BoundTo != "":
		return "in use"
	}
	return "free"
}

func phoneListCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the pool: each number's state and background noise (contacts per day while no token was on it)",
		Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
			ps, err := db.Phones(c.Context)
			if err != nil {
				return err
			}
			noise, err := db.PhoneNoise(c.Context)
			if err != nil {
				return err
			}
			now := e.now()
			if c.Bool("json") {
				out := []map[string]any{}
				for _, p := range ps {
					n := noise[p.E164]
					row := map[string]any{"number": p.E164, "provider": p.Provider, "label": p.Label, "state": phoneState(p, now),
						"tokens": p.Orders, "imported_at": p.ImportedAt, "quarantine_until": p.QuarantineUntil,
						"noise_contacts": n.Contacts, "noise_days": n.Days, "noise_per_day": n.PerDay, "noise_window": n.Window}
					if !p.RetiredAt.IsZero() {
						row["retired_at"] = p.RetiredAt
					}
					out = append(out, row)
				}
				return writeJSON(e.stdout, map[string]any{"phones": out})
			}
			t := &table{}
			t.add("NUMBER", "PROVIDER", "LABEL", "STATE", "TOKENS", "NOISE/DAY", "NOISE")
			for _, p := range ps {
				st := phoneState(p, now)
				n := noise[p.E164]
				t.add(p.E164, orDash(p.Provider), orDash(p.Label), st, fmt.Sprint(p.Orders),
					strconv.FormatFloat(n.PerDay, 'f', 2, 64), fmt.Sprintf("%d in %.0f days (%s)", n.Contacts, n.Days, n.Window))
			}
			t.write(e.stdout)
			return nil
		}),
	}
}

func phoneRetireCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "retire",
		Usage:     "take a number out of the pool for good (lost SIM, cancelled plan): it is never issued again",
		ArgsUsage: "NUMBER",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "why", EnvVars: []string{"LEAKTRACE_WHY"}, Usage: "your reason, kept in the audit log"},
			&cli.StringFlag{Name: "region", Value: "VN", EnvVars: []string{"LEAKTRACE_PHONE_REGION"}, Usage: "country of a number written without +country code"},
		},
		Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
			arg, err := oneArg(c, "NUMBER")
			if err != nil {
				return err
			}
			number, err := norm.PhoneE164(arg, c.String("region"))
			if err != nil {
				return canary.Invalidf("%v", err)
			}
			if err := db.RetirePhone(c.Context, number, c.String("why")); err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(e.stdout, map[string]any{"number": number, "state": "retired"})
			}
			fmt.Fprintf(e.stdout, "%s retired: it will never be issued again\n", number)
			return nil
		}),
	}
}
