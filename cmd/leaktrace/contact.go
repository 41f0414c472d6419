package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

func ingestCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "ingest",
		Usage: "bring contacts in from files and mailboxes",
		Subcommands: []*cli.Command{{
			Name:      "eml",
			Usage:     "record .eml files (or every .eml under a directory), byte for byte",
			ArgsUsage: "PATH...",
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				if c.NArg() == 0 {
					return canary.Invalidf("ingest eml takes one or more files or directories")
				}
				files, err := emlFiles(c.Args().Slice())
				if err != nil {
					return err
				}
				in, err := e.newIngester(c, db)
				if err != nil {
					return err
				}
				var results []map[string]any
				for i, f := range files {
					if err := c.Context.Err(); err != nil {
						return fmt.Errorf("stopped after %d of %d files: %w", i, len(files), err)
					}
					raw, err := readLimited(f, maxRawBytes)
					if err != nil {
						return err
					}
					abs, _ := filepath.Abs(f)
					rec, err := in.Email(c.Context, raw, "eml:"+abs, nil)
					if err != nil {
						return fmt.Errorf("%s: %w", f, err)
					}
					results = append(results, recordedJSON(f, rec))
					if !c.Bool("json") {
						e.printRecorded(f, rec)
					}
					if len(files) > 20 && (i+1)%100 == 0 {
						fmt.Fprintf(e.stderr, "%d of %d files\n", i+1, len(files))
					}
				}
				if c.Bool("json") {
					return writeJSON(e.stdout, map[string]any{"contacts": results})
				}
				return nil
			}),
		},
			notBuilt("mbox", "reading mbox files"),
			notBuilt("maildir", "reading Maildir folders"),
			notBuilt("imap", "fetching from IMAP mailboxes"),
			notBuilt("sms-xml", "reading SMS Backup & Restore files"),
			notBuilt("calls", "reading call CSV files"),
		},
	}
}

func emlFiles(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", a, err)
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".eml") {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", a, err)
		}
	}
	return out, nil
}

func recordedJSON(src string, r *ingest.Recorded) map[string]any {
	return map[string]any{"source": src, "id": strconv.FormatInt(r.Contact.ID, 10), "duplicate": r.Duplicate,
		"raw_sha256": r.Contact.RawSHA256, "matches": len(r.Contact.Matches), "unissued": nonNil(r.Contact.Unissued),
		"problems": nonNil(r.Contact.Problems)}
}

func (e *env) printRecorded(src string, r *ingest.Recorded) {
	if r.Duplicate {
		fmt.Fprintf(e.stdout, "%s: already held as contact %d (same bytes)\n", src, r.Contact.ID)
		return
	}
	what := fmt.Sprintf("%d token match(es)", len(r.Contact.Matches))
	if len(r.Contact.Matches) == 0 && len(r.Contact.Unissued) > 0 {
		what = "reached unissued canary value(s) " + strings.Join(r.Contact.Unissued, ", ")
	}
	fmt.Fprintf(e.stdout, "%s: contact %d recorded, %s\n", src, r.Contact.ID, what)
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
