package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/ingest"
	"github.com/leaktrace/leaktrace/sqlite"
)

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
