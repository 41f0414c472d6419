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
	"github.com/leaktrace/leaktrace/norm"
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
			ingestMboxCommand(e),
			ingestMaildirCommand(e),
			ingestIMAPCommand(e),
			ingestSMSXMLCommand(e),
			ingestCallsCommand(e),
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

// fileResultJSON describes one message of an mbox or Maildir.
func fileResultJSON(r ingest.FileResult) map[string]any {
	if r.Recorded == nil {
		return map[string]any{"source": r.Where, "skipped": r.Skipped}
	}
	return recordedJSON(r.Where, r.Recorded)
}

// mailFileAction runs read over every PATH argument, printing each message.
func (e *env) mailFileAction(what string, read func(c *cli.Context, in *ingest.Ingester, path string, each func(ingest.FileResult) error) error) cli.ActionFunc {
	return e.withDB(func(c *cli.Context, db *sqlite.DB) error {
		if c.NArg() == 0 {
			return canary.Invalidf("ingest %s takes one or more paths", what)
		}
		in, err := e.newIngester(c, db)
		if err != nil {
			return err
		}
		results := []map[string]any{}
		recorded, dups, skipped := 0, 0, 0
		for _, path := range c.Args().Slice() {
			abs, err := filepath.Abs(path)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			err = read(c, in, abs, func(r ingest.FileResult) error {
				switch {
				case r.Recorded == nil:
					skipped++
					if !c.Bool("json") {
						fmt.Fprintf(e.stderr, "%s: skipped: %s\n", r.Where, r.Skipped)
					}
				case r.Recorded.Duplicate:
					dups++
				default:
					recorded++
				}
				if c.Bool("json") {
					results = append(results, fileResultJSON(r))
				} else if r.Recorded != nil {
					e.printRecorded(r.Where, r.Recorded)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("stopped after %d contacts recorded: %w", recorded, err)
			}
		}
		if c.Bool("json") {
			return writeJSON(e.stdout, map[string]any{"contacts": results, "recorded": recorded, "duplicates": dups, "skipped": skipped})
		}
		fmt.Fprintf(e.stdout, "%d recorded, %d already held, %d skipped\n", recorded, dups, skipped)
		return nil
	})
}

func ingestMboxCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "mbox",
		Usage:     "record every message of mbox files; each message's bytes in the file are its evidence, its byte range its source",
		ArgsUsage: "FILE...",
		Action: e.mailFileAction("mbox", func(c *cli.Context, in *ingest.Ingester, path string, each func(ingest.FileResult) error) error {
			f, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("open %s: %w", path, err)
			}
			defer f.Close()
			return in.Mbox(c.Context, f, path, maxRawBytes, each)
		}),
	}
}

func ingestMaildirCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "maildir",
		Usage:     "record every message in the cur/ and new/ folders of Maildirs (read only: nothing is renamed or flagged)",
		ArgsUsage: "DIR...",
		Action: e.mailFileAction("maildir", func(c *cli.Context, in *ingest.Ingester, path string, each func(ingest.FileResult) error) error {
			return in.Maildir(c.Context, path, maxRawBytes, each)
		}),
	}
}

func ingestIMAPCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "imap",
		Usage: "fetch new mail from IMAP mailboxes (INBOX and Junk by default); marks nothing read, deletes nothing",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "server", Required: true, EnvVars: []string{"LEAKTRACE_IMAP_SERVER"}, Usage: "HOST:PORT (993 for TLS, 143 for STARTTLS)"},
			&cli.StringFlag{Name: "user", Required: true, EnvVars: []string{"LEAKTRACE_IMAP_USER"}},
			&cli.StringFlag{Name: "password-env", EnvVars: []string{"LEAKTRACE_IMAP_PASSWORD_ENV"}, Usage: "name of the environment variable that holds the password"},
			&cli.StringFlag{Name: "password-file", EnvVars: []string{"LEAKTRACE_IMAP_PASSWORD_FILE"}, Usage: "file that holds the password (mode 0600)"},
			&cli.StringSliceFlag{Name: "mailbox", EnvVars: []string{"LEAKTRACE_IMAP_MAILBOX"}, Usage: "mailbox to read (repeatable; default INBOX); the Junk folder is added unless --no-junk"},
			&cli.BoolFlag{Name: "no-junk", EnvVars: []string{"LEAKTRACE_IMAP_NO_JUNK"}, Usage: "do not read the Junk folder"},
			&cli.BoolFlag{Name: "idle", EnvVars: []string{"LEAKTRACE_IMAP_IDLE"}, Usage: "keep watching for new mail (IDLE), reconnecting after dropped connections, until interrupted"},
			&cli.StringFlag{Name: "authserv-id", EnvVars: []string{"LEAKTRACE_IMAP_AUTHSERV_ID"}, Usage: "your mail host's authserv-id: its Authentication-Results are trusted (DKIM/SPF/DMARC pass decide first-party mail)"},
			&cli.StringFlag{Name: "security", Value: ingest.IMAPTLS, EnvVars: []string{"LEAKTRACE_IMAP_SECURITY"}, Usage: "tls, starttls, or plain (loopback servers only)"},
			&cli.Int64Flag{Name: "max-size", Value: ingest.DefaultIMAPMaxSize, EnvVars: []string{"LEAKTRACE_IMAP_MAX_SIZE"}, Usage: "largest message fetched whole, in bytes; larger ones are recorded from their header"},
			&cli.BoolFlag{Name: "trace", EnvVars: []string{"LEAKTRACE_IMAP_TRACE"}, Usage: "dump the IMAP protocol to stderr (shows the password and mail: debugging only)"},
		},
		Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
			password, err := imapPassword(c)
			if err != nil {
				return err
			}
			cfg := ingest.IMAPConfig{Server: c.String("server"), User: c.String("user"), Password: password,
				Security: strings.ToLower(c.String("security")), Mailboxes: c.StringSlice("mailbox"), NoJunk: c.Bool("no-junk"),
				AuthservID: c.String("authserv-id"), MaxSize: c.Int64("max-size"), Idle: c.Bool("idle")}
			if c.Bool("trace") {
				cfg.Trace = e.stderr
			}
			if err := ingest.CheckIMAPConfig(cfg); err != nil {
				return err
			}
			var endProgress func()
			cfg.Progress, endProgress = e.progress("imap")
			in, err := e.newIngester(c, db)
			if err != nil {
				return err
			}
			p := &ingest.IMAPPoller{In: in, State: db, Log: e.log, Config: cfg}
			st, err := p.Run(c.Context)
			endProgress()
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(e.stdout, st)
			}
			fmt.Fprintf(e.stdout, "%s: %d fetched, %d recorded, %d already held, %d over --max-size (header only)\n",
				strings.Join(st.Mailboxes, ", "), st.Fetched, st.Recorded, st.Duplicates, st.TooLarge)
			for _, m := range st.Rescanned {
				fmt.Fprintf(e.stdout, "note: %s was renumbered by the server (UIDVALIDITY changed) and read again; known messages were found as duplicates\n", m)
			}
			return nil
		}),
	}
}

// imapPassword reads the password from the variable --password-env names
// or from --password-file: never from a flag value, which ps and shell
// history would show.
func imapPassword(c *cli.Context) (string, error) {
	envName, file := c.String("password-env"), c.String("password-file")
	switch {
	case envName != "" && file != "":
		return "", canary.Invalidf("give --password-env or --password-file, not both")
	case envName != "":
		v, ok := os.LookupEnv(envName)
		if !ok || v == "" {
			return "", canary.Invalidf("--password-env %s: the variable is not set (export %s=... first)", envName, envName)
		}
		return v, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read password file: %w", err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", canary.Invalidf("--password-file %s is empty", file)
		}
		return v, nil
	}
	return "", canary.Invalidf("the IMAP password is needed: --password-env VAR (the variable holding it) or --password-file FILE")
}

// investigationFor returns the named investigation, or the only one; nil
// when there are several and none is named.
func investigationFor(c *cli.Context, db *sqlite.DB) (*canary.Investigation, error) {
	if name := c.String("investigation"); name != "" {
		return db.Investigation(c.Context, name)
	}
	invs, err := db.Investigations(c.Context)
	if err != nil {
		return nil, err
	}
	if len(invs) == 1 {
		return &invs[0], nil
	}
	return nil, nil
}

func phoneFileJSON(st *ingest.PhoneFileStats, contacts []map[string]any) map[string]any {
	return map[string]any{"records": st.Records, "recorded": st.Recorded, "duplicates": st.Duplicates,
		"skipped": st.Skipped, "damaged": st.Damaged, "contacts": contacts}
}

// ingestPhoneFile opens a phone export, reads it with read, and reports
// what was recorded.
func (e *env) ingestPhoneFile(c *cli.Context, db *sqlite.DB, path string,
	read func(in *ingest.Ingester, f *os.File, abs string, each ingest.PhoneFunc) (*ingest.PhoneFileStats, error)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	abs, _ := filepath.Abs(path)
	in, err := e.newIngester(c, db)
	if err != nil {
		return err
	}
	contacts := []map[string]any{}
	st, err := read(in, f, abs, func(r ingest.PhoneRecord, rec *ingest.Recorded) error {
		if rec != nil {
			contacts = append(contacts, recordedJSON(r.Contact.Source, rec))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(e.stdout, phoneFileJSON(st, contacts))
	}
	e.printPhoneFile(path, st)
	return nil
}

func (e *env) printPhoneFile(path string, st *ingest.PhoneFileStats) {
	fmt.Fprintf(e.stdout, "%s: %d records, %d recorded, %d already held, %d skipped (outbound or drafts)\n",
		path, st.Records, st.Recorded, st.Duplicates, st.Skipped)
	if st.Damaged != "" {
		fmt.Fprintf(e.stdout, "warning: the file is damaged; the records before the damage were recorded: %s\n", st.Damaged)
	}
}

func ingestSMSXMLCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "sms-xml",
		Usage:     "record inbound texts, MMS and calls of an \"SMS Backup & Restore\" file of an alias phone; nothing is stored if the file is bad",
		ArgsUsage: "FILE.xml",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "number", Required: true, EnvVars: []string{"LEAKTRACE_SMS_NUMBER"}, Usage: "the alias number whose phone made the file, E.164 (+84912345678)"},
			&cli.StringFlag{Name: "investigation", EnvVars: []string{"LEAKTRACE_INVESTIGATION"}, Usage: "whose locale reads a --number written without a country code"},
			&cli.BoolFlag{Name: "partial", EnvVars: []string{"LEAKTRACE_SMS_PARTIAL"}, Usage: "for a truncated or damaged file, record the whole records before the damage"},
		},
		Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
			path, err := oneArg(c, "FILE.xml")
			if err != nil {
				return err
			}
			inv, err := investigationFor(c, db)
			if err != nil {
				return err
			}
			region := ""
			if inv != nil {
				region = canary.Region(inv.Locale)
			}
			number, err := norm.PhoneE164(c.String("number"), region)
			if err != nil {
				if region == "" {
					return canary.Invalidf("--number %q: write it in E.164 (+84912345678), or name the --investigation whose country it is in", c.String("number"))
				}
				return canary.Invalidf("--number: %v", err)
			}
			if !e.inPool(c, db, number) {
				fmt.Fprintf(e.stderr, "warning: %s is not in the phone pool: its contacts can only match what the texts say\n", number)
			}
			return e.ingestPhoneFile(c, db, path, func(in *ingest.Ingester, f *os.File, abs string, each ingest.PhoneFunc) (*ingest.PhoneFileStats, error) {
				return in.SMSXML(c.Context, f, abs, number, c.Bool("partial"), each)
			})
		}),
	}
}

func (e *env) inPool(c *cli.Context, db *sqlite.DB, number string) bool {
	ps, err := db.Phones(c.Context)
	if err != nil {
		return true // say nothing rather than something wrong
	}
	for _, p := range ps {
		if p.E164 == number {
			return true
		}
	}
	return false
}

func ingestCallsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "calls",
		Usage:     "record calls from a CSV with the header time,from,to,duration_s,transcript; nothing is stored if any row is bad",
		ArgsUsage: "FILE.csv",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "investigation", EnvVars: []string{"LEAKTRACE_INVESTIGATION"}, Usage: "whose time zone and locale read times without an offset and numbers without a country code (default: the only one)"},
			&cli.StringFlag{Name: "charset", Value: "auto", EnvVars: []string{"LEAKTRACE_CHARSET"}, Usage: "auto (UTF-8 or GB18030), utf-8, gb18030, gbk, big5, windows-1258, ..."},
		},
		Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
			path, err := oneArg(c, "FILE.csv")
			if err != nil {
				return err
			}
			opts := ingest.CallsOptions{Charset: c.String("charset")}
			inv, err := investigationFor(c, db)
			if err != nil {
				return err
			}
			if inv != nil {
				opts.Locale, opts.Location = inv.Locale, inv.Location()
			}
			return e.ingestPhoneFile(c, db, path, func(in *ingest.Ingester, f *os.File, abs string, each ingest.PhoneFunc) (*ingest.PhoneFileStats, error) {
				return in.CallsCSV(c.Context, f, abs, opts, each)
			})
		}),
	}
}
