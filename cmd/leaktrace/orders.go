package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/norm"
	"github.com/leaktrace/leaktrace/sqlite"
)

type tokenOut struct {
	Kind      canary.TokenKind `json:"kind"`
	Value     string           `json:"value"`
	Field     string           `json:"field"`
	ExposedTo []string         `json:"exposed_to"`
	Exposures []exposureOut    `json:"exposures"`
}

type exposureOut struct {
	Party     string    `json:"party"`
	Quality   string    `json:"quality"`
	ExposedAt time.Time `json:"exposed_at"`
}

func tokensJSON(toks []canary.Token) []tokenOut {
	out := []tokenOut{}
	for _, t := range toks {
		o := tokenOut{Kind: t.Kind, Value: t.Value, Field: t.Field, ExposedTo: []string{}, Exposures: []exposureOut{}}
		for _, e := range t.Exposures {
			if e.Quality == canary.QualityFull && !slices.Contains(o.ExposedTo, e.Party) {
				o.ExposedTo = append(o.ExposedTo, e.Party)
			}
			o.Exposures = append(o.Exposures, exposureOut{Party: e.Party, Quality: string(e.Quality), ExposedAt: e.ExposedAt})
		}
		out = append(out, o)
	}
	return out
}

func orderJSON(o *canary.Order) map[string]any {
	m := map[string]any{"ref": o.Ref, "investigation": o.Investigation, "account": o.Account, "platform": o.Platform,
		"merchant": o.Merchant, "courier": o.Courier, "outlet": o.Outlet, "payment": o.Payment, "stage": o.Stage(),
		"tokens": tokensJSON(o.Tokens)}
	for k, t := range map[string]time.Time{"created_at": o.CreatedAt, "placed_at": o.PlacedAt, "shipped_at": o.ShippedAt, "abandoned_at": o.AbandonedAt} {
		if !t.IsZero() {
			m[k] = t
		}
	}
	return m
}

// plannedTo says who will see a token, as the sheet tells the shopper:
// parties already shown it, then the roles still to come.
func plannedTo(o *canary.Order, t canary.Token) string {
	var f canary.Field
	if t.Kind == canary.TokenFact {
		f = canary.FactField(t.Field, o.Payment)
	} else if tf, ok := canary.TemplateField(t.Field); ok {
		f = tf
	}
	var out []string
	for _, e := range t.Exposures {
		if !slices.Contains(out, e.Party) {
			out = append(out, e.Party)
		}
	}
	path := canary.Path{Platform: o.Platform, Merchant: o.Merchant, Courier: o.Courier, Outlet: o.Outlet}
	for _, s := range f.Seen {
		name := path.Party(s.Role)
		switch {
		case name != "" && !slices.Contains(out, name):
			out = append(out, name)
		case name == "" && s.Role == canary.RoleCourier && !slices.Contains(out, "the courier"):
			out = append(out, "the courier")
		case name == "" && s.Role == canary.RoleMerchant && t.Order == "" && !slices.Contains(out, "each merchant"):
			out = append(out, "each merchant")
		}
	}
	return strings.Join(out, ", ")
}

func (e *env) printOrder(c *cli.Context, o *canary.Order, sheet bool) error {
	if c.Bool("json") {
		return writeJSON(e.stdout, orderJSON(o))
	}
	w := e.stdout
	path := o.Platform
	if o.Merchant != "" {
		path += " / " + o.Merchant
	}
	if o.Courier != "" {
		path += " / " + o.Courier
	}
	fmt.Fprintf(w, "Order %s — %s — %s — %s — %s\n\n", o.Ref, o.Investigation, path, o.Payment, o.Stage())
	t := &table{}
	t.add("FIELD", "VALUE", "WHERE TO TYPE IT", "SEEN BY")
	for _, tok := range o.Tokens {
		where := "from the order page"
		if f, ok := canary.TemplateField(tok.Field); ok {
			where = f.Where
		}
		if tok.Account != "" && tok.Order == "" {
			where = "account " + tok.Account + ": " + where
		}
		t.add(tok.Field, tok.Value, where, plannedTo(o, tok))
	}
	t.write(w)
	if !sheet {
		return nil
	}
	fmt.Fprintln(w, "\nType every value exactly as shown, each in its own field; never reuse one on another order.")
	switch o.Stage() {
	case "created":
		fmt.Fprintf(w, "When you have paid:  leaktrace order placed %s --at \"YYYY-MM-DD HH:MM\" --fact item=\"...\" --fact price=\"...\" --fact order_no=...\n", o.Ref)
		fmt.Fprintf(w, "If you do not place it:  leaktrace order abandon %s  (its tokens then measure background noise)\n", o.Ref)
	case "placed":
		fmt.Fprintf(w, "When it ships:  leaktrace order shipped %s --courier NAME --fact tracking_no=...\n", o.Ref)
	}
	fmt.Fprintln(w, "Optional, to tell the courier from the shop: once shipped, register the tracking number in the courier's own app")
	fmt.Fprintf(w, "with a fresh email:  leaktrace order expose %s --field \"courier app email\" --kind email --to COURIER\n", o.Ref)
	return nil
}

// importFile is the `orders import` format of SPEC.md.
type importFile struct {
	Investigation string        `json:"investigation"`
	Locale        string        `json:"locale"`
	Orders        []importOrder `json:"orders"`
}

type importOrder struct {
	Ref       string                     `json:"ref"`
	Platform  string                     `json:"platform"`
	Merchant  string                     `json:"merchant"`
	Courier   string                     `json:"courier"`
	Outlet    string                     `json:"outlet"`
	Account   string                     `json:"account"`
	Payment   string                     `json:"payment"`
	PlacedAt  string                     `json:"placed_at"`
	ShippedAt string                     `json:"shipped_at"`
	Facts     map[string]json.RawMessage `json:"facts"`
	Exposures map[string]importExposure  `json:"exposures"`
}

type importExposure struct {
	Kind  canary.TokenKind `json:"kind"`
	To    []string         `json:"to"`
	Value string           `json:"value"`
}

// decodeStrict reads JSON refusing unknown fields, because a misspelt
// "courier" would silently drop an exposure, and a missing exposure can
// convict an innocent party.
func decodeStrict(name string, b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return canary.Invalidf("%s line %d: %v", name, lineOf(b, se.Offset), err)
		case errors.As(err, &te):
			return canary.Invalidf("%s line %d: field %s: %v", name, lineOf(b, te.Offset), te.Field, err)
		case errors.Is(err, io.EOF):
			return canary.Invalidf("%s is empty", name)
		}
		return canary.Invalidf("%s: %v", name, err)
	}
	if dec.More() {
		return canary.Invalidf("%s: more than one JSON value", name)
	}
	return nil
}

func lineOf(b []byte, off int64) int {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	return bytes.Count(b[:off], []byte("\n")) + 1
}

func ordersCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "orders",
		Usage: "many orders at once",
		Subcommands: []*cli.Command{{
			Name:      "import",
			Usage:     "create orders from a JSON file (all or nothing)",
			ArgsUsage: "FILE.json",
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				path, err := oneArg(c, "FILE.json")
				if err != nil {
					return err
				}
				raw, err := readLimited(path, maxRawBytes)
				if err != nil {
					return err
				}
				specs, err := importSpecs(c, db, path, raw)
				if err != nil {
					return err
				}
				orders, warn, err := db.ImportOrders(c.Context, specs)
				if err != nil {
					return fmt.Errorf("%s: %w (nothing was imported)", path, err)
				}
				e.warn(warn)
				if c.Bool("json") {
					out := []map[string]any{}
					for _, o := range orders {
						out = append(out, orderJSON(o))
					}
					return writeJSON(e.stdout, map[string]any{"orders": out})
				}
				fmt.Fprintf(e.stdout, "%d orders imported\n", len(orders))
				return nil
			}),
		}, {
			Name:  "export",
			Usage: "every order with its tokens and who saw each",
			Flags: []cli.Flag{&cli.StringFlag{Name: "investigation", EnvVars: []string{"LEAKTRACE_INVESTIGATION"}}},
			Action: e.withDB(func(c *cli.Context, db *sqlite.DB) error {
				orders, err := db.Orders(c.Context, c.String("investigation"))
				if err != nil {
					return err
				}
				if c.Bool("json") {
					out := []map[string]any{}
					for i := range orders {
						out = append(out, orderJSON(&orders[i]))
					}
					return writeJSON(e.stdout, map[string]any{"orders": out})
				}
				for i := range orders {
					if i > 0 {
						fmt.Fprintln(e.stdout)
					}
					if err := e.printOrder(c, &orders[i], false); err != nil {
						return err
					}
				}
				return nil
			}),
		}},
	}
}

func importSpecs(c *cli.Context, db *sqlite.DB, path string, raw []byte) ([]sqlite.OrderSpec, error) {
	var f importFile
	if err := decodeStrict(path, raw, &f); err != nil {
		return nil, err
	}
	if f.Investigation == "" {
		return nil, canary.Invalidf("%s: \"investigation\" is missing", path)
	}
	inv, err := db.Investigation(c.Context, f.Investigation)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.Locale != "" && f.Locale != inv.Locale {
		return nil, canary.Invalidf("%s: locale %s, but investigation %s is %s", path, f.Locale, inv.Name, inv.Locale)
	}
	if len(f.Orders) == 0 {
		return nil, canary.Invalidf("%s: no orders", path)
	}
	var specs []sqlite.OrderSpec
	for i, o := range f.Orders {
		where := fmt.Sprintf("%s: order %d (%q)", path, i+1, o.Ref)
		s := sqlite.OrderSpec{Investigation: inv.Name, Ref: o.Ref, Account: o.Account, Platform: o.Platform,
			Merchant: o.Merchant, Courier: o.Courier, Outlet: o.Outlet, Payment: o.Payment, CreateParties: true, PlacedText: o.PlacedAt}
		if o.PlacedAt != "" {
			if s.PlacedAt, err = norm.ParseTime(o.PlacedAt, inv.Locale, inv.Location()); err != nil {
				return nil, canary.Invalidf("%s: placed_at: %v", where, err)
			}
		}
		if o.ShippedAt != "" {
			if s.ShippedAt, err = norm.ParseTime(o.ShippedAt, inv.Locale, inv.Location()); err != nil {
				return nil, canary.Invalidf("%s: shipped_at: %v", where, err)
			}
		}
		keys := make([]string, 0, len(o.Facts))
		for k := range o.Facts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			var v any
			if err := json.Unmarshal(o.Facts[k], &v); err != nil {
				return nil, canary.Invalidf("%s: fact %s: %v", where, k, err)
			}
			switch x := v.(type) {
			case string:
				s.Facts = append(s.Facts, sqlite.Fact{Key: k, Value: x})
			case float64:
				s.Facts = append(s.Facts, sqlite.Fact{Key: k, Value: string(o.Facts[k])})
			default:
				return nil, canary.Invalidf("%s: fact %s: give a string or a number", where, k)
			}
		}
		fields := make([]string, 0, len(o.Exposures))
		for k := range o.Exposures {
			fields = append(fields, k)
		}
		sort.Strings(fields)
		for _, k := range fields {
			x := o.Exposures[k]
			s.Exposures = append(s.Exposures, sqlite.ExtraExposure{Field: k, Kind: x.Kind, To: x.To, Value: x.Value})
		}
		specs = append(specs, s)
	}
	return specs, nil
}
