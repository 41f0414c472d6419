package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/sqlite"
)

func investigationCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "investigation",
		Usage: "start or list studies",
		Subcommands: []*cli.Command{{
			Name:      "new",
			Usage:     "start an investigation with a fresh 256-bit secret",
			ArgsUsage: "NAME",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "locale", Value: canary.LocaleVietnam, EnvVars: []string{"LEAKTRACE_LOCALE"}, Usage: "persona names, number and date formats: " + strings.Join(canary.Locales, ", ")},
				&cli.StringFlag{Name: "address", EnvVars: []string{"LEAKTRACE_ADDRESS"}, Usage: "your real delivery address: each order gets a variant of it"},
				&cli.StringFlag{Name: "tz", EnvVars: []string{"LEAKTRACE_TZ"}, Usage: "time zone for times written without an offset (default: the locale's)"},
			},
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				name, err := oneArg(c, "NAME")
				if err != nil {
					return err
				}
				inv := &canary.Investigation{Name: name, Locale: c.String("locale"), Address: c.String("address"), TimeZone: c.String("tz")}
				if err := db.CreateInvestigation(c.Context, inv); err != nil {
					return err
				}
				if c.Bool("json") {
					return writeJSON(e.stdout, map[string]any{"name": inv.Name, "locale": inv.Locale, "time_zone": inv.TimeZone, "address": inv.Address})
				}
				fmt.Fprintf(e.stdout, "investigation %s created (%s, times in %s)\n", inv.Name, inv.Locale, inv.TimeZone)
				if inv.Address == "" {
					fmt.Fprintln(e.stdout, "note: no --address given, so orders get no address variants; letters and courier leaks then go unseen")
				}
				return nil
			}),
		}, {
			Name:  "list",
			Usage: "list investigations",
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				invs, err := db.Investigations(c.Context)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					out := []map[string]any{}
					for _, i := range invs {
						out = append(out, map[string]any{"name": i.Name, "locale": i.Locale, "time_zone": i.TimeZone, "created_at": i.CreatedAt})
					}
					return writeJSON(e.stdout, map[string]any{"investigations": out})
				}
				t := &table{}
				t.add("NAME", "LOCALE", "TIME ZONE", "CREATED")
				for _, i := range invs {
					t.add(i.Name, i.Locale, i.TimeZone, i.CreatedAt.Format(time.DateOnly))
				}
				t.write(e.stdout)
				return nil
			}),
		}},
	}
}

func partyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "party",
		Usage: "record the organisations that receive data",
		Subcommands: []*cli.Command{{
			Name:      "add",
			Usage:     "add a party with the identities it legitimately sends from",
			ArgsUsage: "NAME",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "kind", Required: true, EnvVars: []string{"LEAKTRACE_PARTY_KIND"}, Usage: "platform, merchant, courier, payment, livestream, broker, software, other or public"},
				&cli.StringFlag{Name: "parent", EnvVars: []string{"LEAKTRACE_PARTY_PARENT"}, Usage: "the party it belongs to (SPX under Shopee)"},
				&cli.StringSliceFlag{Name: "domain", EnvVars: []string{"LEAKTRACE_PARTY_DOMAIN"}, Usage: "mail domain it sends from (repeatable)"},
				&cli.StringSliceFlag{Name: "sender", EnvVars: []string{"LEAKTRACE_PARTY_SENDER"}, Usage: "SMS sender ID or phone number it uses (repeatable)"},
			},
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				name, err := oneArg(c, "NAME")
				if err != nil {
					return err
				}
				p := &canary.Party{Name: name, Kind: canary.PartyKind(c.String("kind")), Parent: c.String("parent"),
					Domains: c.StringSlice("domain"), Senders: c.StringSlice("sender")}
				if err := db.AddParty(c.Context, p); err != nil {
					return err
				}
				if c.Bool("json") {
					return writeJSON(e.stdout, partyJSON(*p))
				}
				fmt.Fprintf(e.stdout, "party %s added (%s)\n", p.Name, p.Kind)
				return nil
			}),
		}, {
			Name:  "list",
			Usage: "list parties",
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				ps, err := db.Parties(c.Context)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					out := []map[string]any{}
					for _, p := range ps {
						out = append(out, partyJSON(p))
					}
					return writeJSON(e.stdout, map[string]any{"parties": out})
				}
				t := &table{}
				t.add("NAME", "KIND", "PARENT", "SENDS FROM")
				for _, p := range ps {
					t.add(p.Name, string(p.Kind), orDash(p.Parent), orDash(strings.Join(append(p.Domains, p.Senders...), ", ")))
				}
				t.write(e.stdout)
				return nil
			}),
		}},
	}
}

func partyJSON(p canary.Party) map[string]any {
	return map[string]any{"name": p.Name, "kind": p.Kind, "parent": p.Parent, "domains": nonNil(p.Domains), "senders": nonNil(p.Senders)}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func domainCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "domain",
		Usage: "canary email domains",
		Subcommands: []*cli.Command{{
			Name:      "add",
			Usage:     "add a catch-all domain that receives any local part",
			ArgsUsage: "DOMAIN",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "plus", EnvVars: []string{"LEAKTRACE_DOMAIN_PLUS"}, Usage: "DOMAIN is a mailbox (me@provider) whose +tags carry the tokens"},
			},
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				name, err := oneArg(c, "DOMAIN")
				if err != nil {
					return err
				}
				d := &canary.Domain{Name: name, Plus: c.Bool("plus")}
				if err := db.AddDomain(c.Context, d); err != nil {
					return err
				}
				if d.Plus {
					fmt.Fprintln(e.stderr, "warning: leakers and spammers strip +tags; mail to the bare mailbox is then recorded as unissued and proves nothing. A catch-all domain is far stronger.")
				}
				if c.Bool("json") {
					return writeJSON(e.stdout, map[string]any{"domain": d.Name, "plus": d.Plus})
				}
				if d.Name != strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), ".")) {
					fmt.Fprintf(e.stdout, "canary domain %s added: %s, kept in the ASCII form senders and checkout forms accept\n", d.Name, name)
					return nil
				}
				fmt.Fprintf(e.stdout, "canary domain %s added\n", d.Name)
				return nil
			}),
		}, {
			Name:  "list",
			Usage: "list canary domains",
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				ds, err := db.Domains(c.Context)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					out := []map[string]any{}
					for _, d := range ds {
						out = append(out, map[string]any{"domain": d.Name, "plus": d.Plus, "added_at": d.AddedAt})
					}
					return writeJSON(e.stdout, map[string]any{"domains": out})
				}
				for _, d := range ds {
					fmt.Fprintln(e.stdout, d.Name)
				}
				return nil
			}),
		}},
	}
}

func phoneCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "phone",
		Usage: "the pool of alias phone numbers",
		Subcommands: []*cli.Command{{
			Name:      "import",
			Usage:     "import numbers from a CSV (header row: number[,provider][,label]); all or nothing",
			ArgsUsage: "FILE.csv",
			Flags: []cli.Flag{
				&cli.IntFlag{Name: "quarantine-days", Value: 30, EnvVars: []string{"LEAKTRACE_QUARANTINE_DAYS"}, Usage: "days a fresh number waits before use, measuring the noise it already gets"},
				&cli.StringFlag{Name: "region", Value: "VN", EnvVars: []string{"LEAKTRACE_PHONE_REGION"}, Usage: "country of numbers written without +country code"},
			},
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				path, err := oneArg(c, "FILE.csv")
				if err != nil {
					return err
				}
				if c.Int("quarantine-days") < 0 {
					return canary.Invalidf("--quarantine-days must be 0 or more")
				}
				f, err := os.Open(path)
				if err != nil {
					return fmt.Errorf("open phone list: %w", err)
				}
				defer f.Close()
				res, err := db.ImportPhones(c.Context, f, path, strings.ToUpper(c.String("region")), time.Duration(c.Int("quarantine-days"))*24*time.Hour)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return writeJSON(e.stdout, res)
				}
				fmt.Fprintf(e.stdout, "%d numbers imported; in quarantine until %s\n", res.Imported, res.QuarantineUntil.Format(time.DateOnly))
				return nil
			}),
		},
			phoneListCommand(e),
			phoneRetireCommand(e),
		},
	}
}

// oneArg returns the single positional argument, or says what is missing.
func oneArg(c *cli.Context, what string) (string, error) {
	if c.NArg() != 1 {
		return "", canary.Invalidf("%s takes one argument, %s (got %d)", c.Command.FullName(), what, c.NArg())
	}
	return c.Args().First(), nil
}
