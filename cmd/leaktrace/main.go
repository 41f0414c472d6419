// Command leaktrace proves which company leaked a shopper's personal data,
// with canary identities issued per order and per hop.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	// Time zones must load on a machine without a zoneinfo database.
	_ "time/tzdata"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/sqlite"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := newApp(os.Stdout, os.Stderr)
	if err := app.RunContext(ctx, interspersed(app, os.Args)); err != nil {
		fmt.Fprintln(os.Stderr, "leaktrace:", errorText(err))
		os.Exit(1)
	}
}

// errorText adds what to do for the sentinel errors users meet most.
func errorText(err error) string {
	switch {
	case errors.Is(err, canary.ErrConflict):
		return err.Error() + " (pick another name or reference)"
	default:
		return err.Error()
	}
}

// env is what every command shares: where to write, and how to log.
type env struct {
	stdout, stderr io.Writer
	log            *slog.Logger
	now            func() time.Time
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return newAppWithClock(stdout, stderr, time.Now)
}

// newAppWithClock lets tests run commands on a clock they move.
func newAppWithClock(stdout, stderr io.Writer, now func() time.Time) *cli.App {
	e := &env{stdout: stdout, stderr: stderr, now: now,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	return &cli.App{
		Name:    "leaktrace",
		Usage:   "prove which company leaked a shopper's personal data, with canary identities",
		Version: version,
		Writer:  stdout, ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "db", Value: "./leaktrace.db", EnvVars: []string{"LEAKTRACE_DB"}, Usage: "database file"},
			&cli.BoolFlag{Name: "json", EnvVars: []string{"LEAKTRACE_JSON"}, Usage: "machine-readable output on stdout"},
			&cli.BoolFlag{Name: "verbose", EnvVars: []string{"LEAKTRACE_VERBOSE"}, Usage: "log progress to stderr"},
		},
		Before: func(c *cli.Context) error {
			if c.Bool("verbose") {
				e.log = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
			}
			return nil
		},
		ExitErrHandler: func(*cli.Context, error) {}, // main prints errors once
		Commands: []*cli.Command{
			initCommand(e),
			investigationCommand(e),
			partyCommand(e),
			domainCommand(e),
			phoneCommand(e),
			accountCommand(e),
			orderCommand(e),
			ordersCommand(e),
			ingestCommand(e),
			contactCommand(e),
			attributeCommand(e),
			verifyCommand(e),
			demoCommand(e),
			serveCommand(e),
			notBuilt("report", "attribution reports in md, html, pdf, json and csv (use `attribute` meanwhile)"),
			notBuilt("export", "evidence bundles"),
			notBuilt("anchor", "chain heads for external timestamping"),
			notBuilt("purge", "end-of-retention tombstones"),
			planCommand(e),
		},
	}
}

// notBuilt is a command of SPEC.md that this version does not have yet. It
// says so and fails, rather than pretend.
func notBuilt(name, what string) *cli.Command {
	return &cli.Command{
		Name:            name,
		Usage:           "(not built yet) " + what,
		SkipFlagParsing: true,
		Action: func(*cli.Context) error {
			return fmt.Errorf("`%s` (%s) is not built yet in this version of leaktrace", name, what)
		},
	}
}

// openDB opens the database named by --db, which must exist: only init
// creates one, so that a mistyped path is an error rather than a new,
// empty database (where verify would find nothing wrong).
func (e *env) openDB(c *cli.Context) (*sqlite.DB, error) {
	if err := mustExist(c.String("db")); err != nil {
		return nil, err
	}
	return e.createDB(c)
}

func mustExist(path string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return canary.Invalidf("no database at %s: create it with `leaktrace init`, or point --db (LEAKTRACE_DB) at the right file", path)
	}
	return nil
}

// createDB opens the database named by --db, creating it if need be.
func (e *env) createDB(c *cli.Context) (*sqlite.DB, error) {
	db, err := sqlite.Open(c.Context, c.String("db"), e.log)
	if err != nil {
		return nil, err
	}
	db.Now = e.now
	return db, nil
}

// withDB runs fn with the open database and closes it after.
func (e *env) withDB(fn func(c *cli.Context, db *sqlite.DB) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		db, err := e.openDB(c)
		if err != nil {
			return err
		}
		defer db.Close()
		return fn(c, db)
	}
}

func initCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "create the database (mode 0600)",
		Action: func(c *cli.Context) error {
			db, err := e.createDB(c)
			if err != nil {
				return err
			}
			defer db.Close()
			if c.Bool("json") {
				return writeJSON(e.stdout, map[string]string{"db": db.Path()})
			}
			fmt.Fprintf(e.stdout, "database ready: %s\n", db.Path())
			fmt.Fprintln(e.stdout, "It will hold your real address and data about other people: keep it, and any server that receives canary mail,")
			fmt.Fprintln(e.stdout, "in the data subjects' country (Vietnam's Law 91/2025/QH15, China's PIPL).")
			return nil
		},
	}
}
