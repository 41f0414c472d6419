package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/norm"
	"github.com/leaktrace/leaktrace/sqlite"
)

func accountCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "account",
		Usage: "platform logins shared by several orders",
		Subcommands: []*cli.Command{{
			Name:  "new",
			Usage: "issue the email, phone and name to register a platform account with",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "investigation", Required: true, EnvVars: []string{"LEAKTRACE_INVESTIGATION"}},
				&cli.StringFlag{Name: "platform", Required: true, EnvVars: []string{"LEAKTRACE_PLATFORM"}},
				&cli.StringFlag{Name: "ref", EnvVars: []string{"LEAKTRACE_ACCOUNT_REF"}, Usage: "your reference for the account (default a-NNN)"},
			},
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				acct, toks, warn, err := db.CreateAccount(c.Context, c.String("investigation"), c.String("platform"), c.String("ref"))
				if err != nil {
					return err
				}
				e.warn(warn)
				if c.Bool("json") {
					return writeJSON(e.stdout, map[string]any{"ref": acct.Ref, "investigation": acct.Investigation, "platform": acct.Platform, "tokens": tokensJSON(toks)})
				}
				fmt.Fprintf(e.stdout, "Account %s on %s — register it with exactly these values:\n\n", acct.Ref, acct.Platform)
				t := &table{}
				t.add("FIELD", "TYPE THIS", "WHERE")
				for _, tok := range toks {
					f, _ := canary.TemplateField(tok.Field)
					t.add(tok.Field, tok.Value, f.Where)
				}
				t.write(e.stdout)
				fmt.Fprintf(e.stdout, "\nOrders use it with: leaktrace order new --investigation %q --platform %q --account %s\n", acct.Investigation, acct.Platform, acct.Ref)
				return nil
			}),
		}},
	}
}

func (e *env) warn(ws []string) {
	for _, w := range ws {
		fmt.Fprintln(e.stderr, "warning:", w)
	}
}

// factFlags reads repeated --fact key=value.
func factFlags(c *cli.Context) ([]sqlite.Fact, error) {
	var out []sqlite.Fact
	for _, f := range c.StringSlice("fact") {
		k, v, ok := strings.Cut(f, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, canary.Invalidf("--fact %q: write key=value, e.g. --fact price=\"68.50 CNY\"", f)
		}
		out = append(out, sqlite.Fact{Key: strings.TrimSpace(k), Value: v})
	}
	return out, nil
}

// resolveOrder finds the investigation of a bare order ref.
func resolveOrder(c *cli.Context, db *sqlite.DB) (inv, ref string, err error) {
	ref, err = oneArg(c, "REF")
	if err != nil {
		return "", "", err
	}
	if inv = c.String("investigation"); inv != "" {
		return inv, ref, nil
	}
	invs, err := db.OrderInvestigations(c.Context, ref)
	if err != nil {
		return "", "", err
	}
	switch len(invs) {
	case 0:
		return "", "", fmt.Errorf("order %q: %w", ref, canary.ErrNotFound)
	case 1:
		return invs[0], ref, nil
	}
	return "", "", canary.Invalidf("order %q exists in %s: say which with --investigation", ref, strings.Join(invs, ", "))
}

// readTime reads a user-typed time in the investigation's zone and locale.
func readTime(c *cli.Context, db *sqlite.DB, investigation, s string) (time.Time, error) {
	inv, err := db.Investigation(c.Context, investigation)
	if err != nil {
		return time.Time{}, err
	}
	t, err := norm.ParseTime(s, inv.Locale, inv.Location())
	if err != nil {
		return time.Time{}, canary.Invalidf("time %q: %v", s, err)
	}
	return t, nil
}

var invFlag = &cli.StringFlag{Name: "investigation", EnvVars: []string{"LEAKTRACE_INVESTIGATION"}, Usage: "needed only when the ref exists in several investigations"}

func orderCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "order",
		Usage: "one test purchase through its life: new, placed, shipped, attach, abandon, show",
		Subcommands: []*cli.Command{{
			Name:  "new",
			Usage: "issue an order's tokens and print the order sheet",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "investigation", Required: true, EnvVars: []string{"LEAKTRACE_INVESTIGATION"}},
				&cli.StringFlag{Name: "platform", Required: true, EnvVars: []string{"LEAKTRACE_PLATFORM"}},
				&cli.StringFlag{Name: "account", EnvVars: []string{"LEAKTRACE_ACCOUNT"}, Usage: "account ref from `account new` (default: a new account)"},
				&cli.StringFlag{Name: "merchant", EnvVars: []string{"LEAKTRACE_MERCHANT"}},
				&cli.StringFlag{Name: "payment", Value: canary.PaymentPrepaid, EnvVars: []string{"LEAKTRACE_PAYMENT"}, Usage: "prepaid or cod"},
				&cli.StringFlag{Name: "ref", EnvVars: []string{"LEAKTRACE_ORDER_REF"}, Usage: "your reference (default o-NNN)"},
			},
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				o, warn, err := db.CreateOrder(c.Context, sqlite.OrderSpec{Investigation: c.String("investigation"), Ref: c.String("ref"),
					Account: c.String("account"), Platform: c.String("platform"), Merchant: c.String("merchant"), Payment: c.String("payment")})
				if err != nil {
					return err
				}
				e.warn(warn)
				return e.printOrder(c, o, true)
			}),
		}, {
			Name:      "placed",
			Usage:     "record that the order was placed: platform and merchant now hold its data",
			ArgsUsage: "REF",
			Flags: []cli.Flag{invFlag,
				&cli.StringFlag{Name: "at", Required: true, EnvVars: []string{"LEAKTRACE_AT"}, Usage: "when it was placed (2026-11-01 10:00, or RFC 3339)"},
				&cli.StringSliceFlag{Name: "fact", EnvVars: []string{"LEAKTRACE_FACT"}, Usage: "key=value: item, price, order_no, weight, ... (repeatable)"},
			},
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				inv, ref, err := resolveOrder(c, db)
				if err != nil {
					return err
				}
				at, err := readTime(c, db, inv, c.String("at"))
				if err != nil {
					return err
				}
				facts, err := factFlags(c)
				if err != nil {
					return err
				}
				o, err := db.PlaceOrder(c.Context, inv, ref, at, c.String("at"), facts)
				if err != nil {
					return err
				}
				return e.printOrder(c, o, false)
			}),
		}, {
			Name:      "shipped",
			Usage:     "record that the courier (and outlet) received the label",
			ArgsUsage: "REF",
			Flags: []cli.Flag{invFlag,
				&cli.StringFlag{Name: "courier", Required: true, EnvVars: []string{"LEAKTRACE_COURIER"}},
				&cli.StringFlag{Name: "outlet", EnvVars: []string{"LEAKTRACE_OUTLET"}, Usage: "courier depot or pickup point that handled the label"},
				&cli.StringFlag{Name: "at", EnvVars: []string{"LEAKTRACE_AT"}, Usage: "when the label was handed over (default: now)"},
				&cli.StringSliceFlag{Name: "fact", EnvVars: []string{"LEAKTRACE_FACT"}, Usage: "key=value, e.g. tracking_no=SPXVN0123456789 (repeatable)"},
			},
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				inv, ref, err := resolveOrder(c, db)
				if err != nil {
					return err
				}
				at := e.now()
				if s := c.String("at"); s != "" {
					if at, err = readTime(c, db, inv, s); err != nil {
						return err
					}
				}
				facts, err := factFlags(c)
				if err != nil {
					return err
				}
				o, err := db.ShipOrder(c.Context, inv, ref, c.String("courier"), c.String("outlet"), at, facts)
				if err != nil {
					return err
				}
				return e.printOrder(c, o, false)
			}),
		}, {
			Name:      "attach",
			Usage:     "store a checkout screenshot, label, confirmation or chat as evidence",
			ArgsUsage: "REF FILE",
			Flags: []cli.Flag{invFlag,
				&cli.StringFlag{Name: "what", Required: true, EnvVars: []string{"LEAKTRACE_WHAT"}, Usage: strings.Join(sqlite.AttachmentKinds, ", ")},
			},
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				if c.NArg() != 2 {
					return canary.Invalidf("order attach takes REF FILE")
				}
				ref, file := c.Args().Get(0), c.Args().Get(1)
				inv := c.String("investigation")
				if inv == "" {
					invs, err := db.OrderInvestigations(c.Context, ref)
					if err != nil {
						return err
					}
					if len(invs) != 1 {
						return canary.Invalidf("order %q is in %d investigations: say which with --investigation", ref, len(invs))
					}
					inv = invs[0]
				}
				raw, err := readLimited(file, maxRawBytes)
				if err != nil {
					return err
				}
				sha, err := db.AttachToOrder(c.Context, inv, ref, filepath.Base(file), c.String("what"), raw)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return writeJSON(e.stdout, map[string]any{"order": ref, "sha256": sha, "size": len(raw)})
				}
				fmt.Fprintf(e.stdout, "%s stored for order %s as sha256 %s (%d bytes)\n", filepath.Base(file), ref, sha, len(raw))
				return nil
			}),
		}, {
			Name:      "expose",
			Usage:     "record a field only some hops see (a fresh email registered in the courier's app), or more parties shown a field",
			ArgsUsage: "REF",
			Flags: []cli.Flag{invFlag,
				&cli.StringFlag{Name: "field", Required: true, EnvVars: []string{"LEAKTRACE_FIELD"}, Usage: "e.g. \"courier app email\", or a template field such as \"shipping address\""},
				&cli.StringFlag{Name: "kind", EnvVars: []string{"LEAKTRACE_KIND"}, Usage: "email, phone, name, address or fact, for a new field"},
				&cli.StringSliceFlag{Name: "to", Required: true, EnvVars: []string{"LEAKTRACE_TO"}, Usage: "party shown it (repeatable)"},
				&cli.StringFlag{Name: "value", EnvVars: []string{"LEAKTRACE_VALUE"}, Usage: "the value, for a fact"},
			},
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				inv, ref, err := resolveOrder(c, db)
				if err != nil {
					return err
				}
				o, err := db.AddExposures(c.Context, inv, ref, []sqlite.ExtraExposure{{Field: c.String("field"),
					Kind: canary.TokenKind(c.String("kind")), To: c.StringSlice("to"), Value: c.String("value")}})
				if err != nil {
					return err
				}
				return e.printOrder(c, o, false)
			}),
		}, {
			Name:      "abandon",
			Usage:     "give up an order before placing it: its tokens become never-exposed controls",
			ArgsUsage: "REF",
			Flags:     []cli.Flag{invFlag},
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				inv, ref, err := resolveOrder(c, db)
				if err != nil {
					return err
				}
				o, err := db.AbandonOrder(c.Context, inv, ref)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					return writeJSON(e.stdout, orderJSON(o))
				}
				fmt.Fprintf(e.stdout, "order %s abandoned: its %d tokens are controls now; a contact to them measures background noise\n", ref, len(o.Tokens))
				return nil
			}),
		}, {
			Name:      "show",
			Usage:     "print an order's sheet again",
			ArgsUsage: "REF",
			Flags:     []cli.Flag{invFlag},
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				inv, ref, err := resolveOrder(c, db)
				if err != nil {
					return err
				}
				orders, err := db.Orders(c.Context, inv)
				if err != nil {
					return err
				}
				for i := range orders {
					if orders[i].Ref == ref {
						return e.printOrder(c, &orders[i], true)
					}
				}
				return fmt.Errorf("order %q: %w", ref, canary.ErrNotFound)
			}),
		}},
	}
}

// maxRawBytes bounds a file read as evidence, so a wrong path (a disk
// image) is refused with a message instead of exhausting memory.
const maxRawBytes = 64 << 20

func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.IsDir() {
		return nil, canary.Invalidf("%s is a directory", path)
	}
	if st.Size() > max {
		return nil, canary.Invalidf("%s is %d MiB; files over %d MiB are refused", path, st.Size()>>20, max>>20)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, canary.Invalidf("%s grew past %d MiB while being read", path, max>>20)
	}
	return b, nil
}
