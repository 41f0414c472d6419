package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/leaktrace/leaktrace/attribution"
	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/ingest"
	"github.com/leaktrace/leaktrace/norm"
	"github.com/leaktrace/leaktrace/sqlite"
)

// newIngester loads the tokens once for a batch of contacts.
func (e *env) newIngester(c *cli.Context, db *sqlite.DB) (*ingest.Ingester, error) {
	u, err := db.Universe(c.Context)
	if err != nil {
		return nil, err
	}
	return &ingest.Ingester{Store: db, Matcher: attribution.NewMatcher(u), Limits: ingest.DefaultLimits(), Log: e.log, Now: e.now}, nil
}

func contactCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "contact",
		Usage: "record and judge incoming contacts",
		Subcommands: []*cli.Command{{
			Name:  "add",
			Usage: "record a letter, call, text or chat by hand",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "channel", Required: true, EnvVars: []string{"LEAKTRACE_CHANNEL"}, Usage: "postal, call, sms, chat or other"},
				&cli.StringFlag{Name: "to", EnvVars: []string{"LEAKTRACE_TO"}, Usage: "what it was sent to: a number, an address block, a name"},
				&cli.StringFlag{Name: "text", EnvVars: []string{"LEAKTRACE_TEXT"}, Usage: "what it said (a transcript for calls)"},
				&cli.StringFlag{Name: "at", EnvVars: []string{"LEAKTRACE_AT"}, Usage: "when it arrived (default: now)"},
				&cli.StringFlag{Name: "from", EnvVars: []string{"LEAKTRACE_FROM"}, Usage: "sender: number, sender ID, return address"},
				&cli.StringFlag{Name: "investigation", EnvVars: []string{"LEAKTRACE_INVESTIGATION"}, Usage: "whose time zone and date order --at is read in"},
			},
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				tc := ingest.TextContact{Channel: canary.Channel(c.String("channel")), To: c.String("to"), Text: c.String("text"),
					From: c.String("from"), Source: "contact add"}
				if s := c.String("at"); s != "" {
					at, err := contactTime(c, db, s)
					if err != nil {
						return err
					}
					tc.At, tc.AtText = at, s
				}
				in, err := e.newIngester(c, db)
				if err != nil {
					return err
				}
				rec, err := in.Text(c.Context, tc)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return writeJSON(e.stdout, recordedJSON("contact add", rec))
				}
				e.printRecorded("contact add", rec)
				return nil
			}),
		}, {
			Name:      "mark",
			Usage:     "record your judgement: first-party (the party's own legitimate message), scam, or ignore",
			ArgsUsage: "ID first-party|scam|ignore",
			Flags:     []cli.Flag{&cli.StringFlag{Name: "why", EnvVars: []string{"LEAKTRACE_WHY"}, Usage: "your reason, kept in the audit log"}},
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				if c.NArg() != 2 {
					return canary.Invalidf("contact mark takes ID and one of first-party, scam, ignore")
				}
				id, err := strconv.ParseInt(strings.TrimPrefix(c.Args().Get(0), "#"), 10, 64)
				if err != nil {
					return canary.Invalidf("contact id %q: give the number `attribute` shows", c.Args().Get(0))
				}
				if err := db.MarkContact(c.Context, id, c.Args().Get(1), c.String("why")); err != nil {
					return err
				}
				if c.Bool("json") {
					return writeJSON(e.stdout, map[string]any{"id": strconv.FormatInt(id, 10), "mark": c.Args().Get(1)})
				}
				fmt.Fprintf(e.stdout, "contact %d marked %s\n", id, c.Args().Get(1))
				return nil
			}),
		}},
	}
}

// contactTime reads --at in the named investigation's zone, or the only
// investigation's; with several and none named, the time needs an offset.
func contactTime(c *cli.Context, db *sqlite.DB, s string) (time.Time, error) {
	name := c.String("investigation")
	if name == "" {
		invs, err := db.Investigations(c.Context)
		if err != nil {
			return time.Time{}, err
		}
		if len(invs) == 1 {
			name = invs[0].Name
		}
	}
	if name != "" {
		return readTime(c, db, name, s)
	}
	t, err := norm.ParseTime(s, canary.LocaleUS, time.UTC)
	if err != nil {
		return time.Time{}, canary.Invalidf("--at %q: %v", s, err)
	}
	if !strings.ContainsAny(s[min(len(s), 10):], "Z+-") {
		return time.Time{}, canary.Invalidf("--at %q has no offset and there are several investigations: add --investigation or an offset (+07:00)", s)
	}
	return t, nil
}
