package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/norm"
)

// clockSkew is how far a typed time may run ahead of the clock: an exposure
// recorded in the future would wrongly keep a party out of candidate sets.
const clockSkew = 10 * time.Minute

// Fact is a detail of an order given as key=value.
type Fact struct {
	Key, Value string
}

// ExtraExposure is a field an order adds to the template, or more parties
// shown a template field (label-printing software, a dropship supplier).
type ExtraExposure struct {
	Field string
	Kind  canary.TokenKind
	To    []string
	Value string // for facts
}

// OrderSpec is what a user says about a new order.
type OrderSpec struct {
	Investigation string
	Ref           string
	Account       string // account ref; a new account when empty
	Platform      string
	Merchant      string
	Courier       string
	Outlet        string
	Payment       string
	PlacedAt      time.Time
	PlacedText    string
	ShippedAt     time.Time
	Facts         []Fact
	Exposures     []ExtraExposure
	// CreateParties lets orders import create parties it names (by role).
	CreateParties bool
}

// orderRow is an order as stored, with its parties resolved.
type orderRow struct {
	canary.Order
	accountID      int64
	accountCreated time.Time
}

func (r *orderRow) path() canary.Path { return canary.PathOf(&r.Order, r.accountCreated) }

// CreateAccount registers a platform login and issues its tokens.
func (d *DB) CreateAccount(ctx context.Context, investigation, platform, ref string) (*canary.Account, []canary.Token, []string, error) {
	tx, err := d.begin(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	defer tx.Rollback()
	inv, err := tx.investigation(ctx, investigation)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := tx.party(ctx, platform)
	if err != nil {
		return nil, nil, nil, err
	}
	acct, toks, warn, err := tx.createAccount(ctx, inv, p, ref)
	if err != nil {
		return nil, nil, nil, err
	}
	return acct, toks, warn, tx.Commit()
}

func (tx *Tx) createAccount(ctx context.Context, inv *canary.Investigation, platform *canary.Party, ref string) (*canary.Account, []canary.Token, []string, error) {
	if platform.Kind != canary.KindPlatform {
		return nil, nil, nil, canary.Invalidf("%s is a %s, not a platform", platform.Name, platform.Kind)
	}
	if ref == "" {
		var err error
		if ref, err = tx.freeRef(ctx, "accounts", inv.ID, "a-%03d"); err != nil {
			return nil, nil, nil, err
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO accounts (investigation_id, ref, platform_id, created_at) VALUES (?, ?, ?, ?)`,
		inv.ID, ref, platform.ID, fmtTime(tx.now))
	if err != nil {
		return nil, nil, nil, mapErr(err, "create account "+ref)
	}
	id, _ := res.LastInsertId()
	acct := &canary.Account{ID: id, Investigation: inv.Name, Ref: ref, Platform: platform.Name, CreatedAt: tx.now}
	if err := tx.audit(ctx, canary.InvestigationChain(inv.Name), "account created", "account "+ref, map[string]any{"platform": platform.Name}); err != nil {
		return nil, nil, nil, err
	}
	o := owner{inv: inv, orderID: id, ref: ref, account: true}
	path := canary.Path{Platform: platform.Name, Times: map[canary.Stage]time.Time{canary.StageAccount: tx.now}}
	var toks []canary.Token
	var warn []string
	for _, f := range canary.AccountFields {
		t, w, err := tx.issueField(ctx, o, f, path)
		if err != nil {
			return nil, nil, nil, err
		}
		if w != "" {
			warn = append(warn, w)
		}
		if t == nil {
			continue
		}
		if err := tx.exposeStage(ctx, inv, t, f, path, canary.StageAccount); err != nil {
			return nil, nil, nil, err
		}
		toks = append(toks, *t)
	}
	return acct, toks, warn, nil
}

// freeRef returns the first default ref (format numbered from the count of
// rows on) that no row of table in the investigation has: refs given by hand
// may already hold the next number.
func (tx *Tx) freeRef(ctx context.Context, table string, invID int64, format string) (string, error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE investigation_id = ?`, invID).Scan(&n); err != nil {
		return "", fmt.Errorf("count %s: %w", table, err)
	}
	for {
		n++
		ref := fmt.Sprintf(format, n)
		var taken int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE investigation_id = ? AND ref = ?`, invID, ref).Scan(&taken); err != nil {
			return "", fmt.Errorf("check %s ref %s: %w", table, ref, err)
		}
		if taken == 0 {
			return ref, nil
		}
	}
}

// issueField issues the token of one template field. A field that cannot be
// issued (no phone left, no base address) gives a warning and no token.
func (tx *Tx) issueField(ctx context.Context, o owner, f canary.Field, path canary.Path) (*canary.Token, string, error) {
	switch f.Kind {
	case canary.TokenEmail:
		t, err := tx.issueEmail(ctx, o, f.Name)
		return t, "", err
	case canary.TokenName:
		t, err := tx.issueName(ctx, o, f.Name)
		return t, "", err
	case canary.TokenAddress:
		if o.inv.Address == "" {
			return nil, fmt.Sprintf("%s: no %s token: the investigation has no base address (investigation new --address)", o.subject(), f.Name), nil
		}
		t, err := tx.issueAddress(ctx, o, f.Name)
		return t, "", err
	case canary.TokenPhone:
		t, err := tx.issuePhone(ctx, o, f.Name, phoneSignature(f, path, o))
		if err == nil && t == nil {
			return nil, fmt.Sprintf("%s: no %s token: the phone pool has no free number out of quarantine (phone import); a number you type there proves nothing", o.subject(), f.Name), nil
		}
		return t, "", err
	}
	return nil, "", fmt.Errorf("field %s: kind %s is not issued from the template", f.Name, f.Kind)
}

// exposeStage records that the parties the template names for stage were
// shown t at that stage's time.
func (tx *Tx) exposeStage(ctx context.Context, inv *canary.Investigation, t *canary.Token, f canary.Field, path canary.Path, stage canary.Stage) error {
	for _, e := range f.ExposuresAt(path, stage) {
		if err := tx.expose(ctx, inv, t, e); err != nil {
			return err
		}
	}
	return nil
}

func (tx *Tx) expose(ctx context.Context, inv *canary.Investigation, t *canary.Token, e canary.Exposure) error {
	p, err := tx.party(ctx, e.Party)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO exposures (token_id, party_id, field, quality, exposed_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (token_id, party_id) DO NOTHING`, t.ID, p.ID, e.Field, string(e.Quality), fmtTime(e.ExposedAt))
	if err != nil {
		return fmt.Errorf("record exposure of token %d to %s: %w", t.ID, p.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // already shown earlier: the first exposure is the one that counts
	}
	t.Exposures = append(t.Exposures, e)
	return tx.audit(ctx, canary.InvestigationChain(inv.Name), "exposure recorded", fmt.Sprintf("token %d", t.ID), map[string]any{
		"party": p.Name, "field": e.Field, "quality": e.Quality, "exposed_at": fmtTime(e.ExposedAt)})
}

// CreateOrder creates an order, issues its tokens, and places and ships it
// when the spec says it was. Warnings say what could not be issued.
func (d *DB) CreateOrder(ctx context.Context, spec OrderSpec) (*canary.Order, []string, error) {
	tx, err := d.begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	o, warn, err := tx.createOrder(ctx, spec)
	if err != nil {
		return nil, nil, err
	}
	return o, warn, tx.Commit()
}

func (tx *Tx) roleParty(ctx context.Context, name string, kind canary.PartyKind, create bool, warn *[]string) (*canary.Party, error) {
	if !create {
		return tx.party(ctx, name)
	}
	p, created, err := tx.ensureParty(ctx, name, kind)
	if err == nil && created {
		*warn = append(*warn, fmt.Sprintf("party %s created as a %s", name, kind))
	}
	return p, err
}

func (tx *Tx) createOrder(ctx context.Context, spec OrderSpec) (*canary.Order, []string, error) {
	var warn []string
	inv, err := tx.investigation(ctx, spec.Investigation)
	if err != nil {
		return nil, nil, err
	}
	if spec.Platform == "" {
		return nil, nil, canary.Invalidf("order %s: platform is required", spec.Ref)
	}
	if spec.Payment == "" {
		spec.Payment = canary.PaymentPrepaid
	}
	if spec.Payment != canary.PaymentPrepaid && spec.Payment != canary.PaymentCOD {
		return nil, nil, canary.Invalidf("order %s: payment %q: use prepaid or cod", spec.Ref, spec.Payment)
	}
	platform, err := tx.roleParty(ctx, spec.Platform, canary.KindPlatform, spec.CreateParties, &warn)
	if err != nil {
		return nil, nil, err
	}
	row := &orderRow{Order: canary.Order{Investigation: inv.Name, Platform: platform.Name, Payment: spec.Payment}}
	var merchantID any
	if spec.Merchant != "" {
		m, err := tx.roleParty(ctx, spec.Merchant, canary.KindMerchant, spec.CreateParties, &warn)
		if err != nil {
			return nil, nil, err
		}
		row.Merchant, merchantID = m.Name, m.ID
	}
	if spec.Ref == "" {
		if spec.Ref, err = tx.freeRef(ctx, "orders", inv.ID, "o-%03d"); err != nil {
			return nil, nil, err
		}
	}
	row.Ref = spec.Ref
	if spec.Account != "" {
		var plat string
		err := tx.QueryRowContext(ctx, `SELECT a.id, a.created_at, p.name FROM accounts a JOIN parties p ON p.id = a.platform_id
			WHERE a.investigation_id = ? AND a.ref = ?`, inv.ID, spec.Account).Scan(&row.accountID, new(sql.NullString), &plat)
		if err == sql.ErrNoRows {
			return nil, nil, fmt.Errorf("order %s: account %q: %w (create it with: leaktrace account new --investigation %q --platform %q --ref %q)",
				spec.Ref, spec.Account, canary.ErrNotFound, inv.Name, platform.Name, spec.Account)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read account %s: %w", spec.Account, err)
		}
		if plat != platform.Name {
			return nil, nil, canary.Invalidf("order %s: account %s is a %s login, not %s", spec.Ref, spec.Account, plat, platform.Name)
		}
		row.Account = spec.Account
	} else {
		acct, _, w, err := tx.createAccount(ctx, inv, platform, spec.Ref+"-account")
		if err != nil {
			return nil, nil, err
		}
		warn = append(warn, w...)
		row.accountID, row.Account = acct.ID, acct.Ref
	}
	row.accountCreated = tx.accountCreated(ctx, row.accountID)
	row.CreatedAt = tx.now
	res, err := tx.ExecContext(ctx, `INSERT INTO orders (investigation_id, ref, account_id, platform_id, merchant_id, payment, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, inv.ID, row.Ref, row.accountID, platform.ID, merchantID, row.Payment, fmtTime(row.CreatedAt))
	if err != nil {
		return nil, nil, mapErr(err, fmt.Sprintf("create order %s (refs are unique within an investigation)", row.Ref))
	}
	row.ID, _ = res.LastInsertId()
	if err := tx.audit(ctx, canary.InvestigationChain(inv.Name), "order created", "order "+row.Ref, map[string]any{
		"account": row.Account, "platform": row.Platform, "merchant": row.Merchant, "payment": row.Payment}); err != nil {
		return nil, nil, err
	}
	// A shipping phone can be shared only by orders whose whole path is known now.
	if spec.Courier != "" {
		c, err := tx.roleParty(ctx, spec.Courier, canary.KindCourier, spec.CreateParties, &warn)
		if err != nil {
			return nil, nil, err
		}
		row.Courier, row.Outlet = c.Name, spec.Outlet
	}
	o := owner{inv: inv, orderID: row.ID, ref: row.Ref, own: map[string]bool{}}
	for _, x := range spec.Exposures {
		o.own[x.Field] = true
	}
	for _, f := range canary.OrderFields {
		_, w, err := tx.issueField(ctx, o, f, row.path())
		if err != nil {
			return nil, nil, err
		}
		if w != "" {
			warn = append(warn, w)
		}
	}
	row.Courier, row.Outlet = "", ""
	if !spec.PlacedAt.IsZero() {
		if err := tx.placeOrder(ctx, inv, row, spec.PlacedAt, spec.PlacedText, spec.Facts); err != nil {
			return nil, nil, err
		}
		if spec.Courier != "" {
			at := spec.ShippedAt
			if at.IsZero() {
				// Unknown shipping time: assume the courier saw the label at
				// placing, which can only widen the courier's exposure.
				at = spec.PlacedAt
			}
			if err := tx.shipOrder(ctx, inv, row, spec.Courier, spec.Outlet, at, nil, spec.CreateParties); err != nil {
				return nil, nil, err
			}
		}
	} else if len(spec.Facts) > 0 || !spec.ShippedAt.IsZero() {
		// A courier alone is the planned one (from `plan`): it lets orders on
		// one path share a number; it is recorded as shown the label only
		// when `order shipped` says so.
		return nil, nil, canary.Invalidf("order %s: facts and a shipping time need a placed time (placed_at)", row.Ref)
	}
	if err := tx.extraExposures(ctx, inv, row, spec.Exposures, spec.CreateParties); err != nil {
		return nil, nil, err
	}
	ord, err := tx.loadOrder(ctx, inv, row.Ref)
	if err != nil {
		return nil, nil, err
	}
	return ord, warn, nil
}

func (tx *Tx) accountCreated(ctx context.Context, id int64) time.Time {
	var s sql.NullString
	_ = tx.QueryRowContext(ctx, `SELECT created_at FROM accounts WHERE id = ?`, id).Scan(&s)
	return parseTime(s)
}

// extraExposures adds the order's own fields, or more parties to template
// fields. A party sees them when the order reached it: the courier and outlet
// at shipping, others at placing, and now for an order not yet placed.
func (tx *Tx) extraExposures(ctx context.Context, inv *canary.Investigation, row *orderRow, extra []ExtraExposure, create bool) error {
	o := owner{inv: inv, orderID: row.ID, ref: row.Ref}
	for _, x := range extra {
		if len(x.To) == 0 {
			return canary.Invalidf("order %s: exposure %q names no party in \"to\"", row.Ref, x.Field)
		}
		toks, err := tx.orderTokens(ctx, row.ID)
		if err != nil {
			return err
		}
		var t *canary.Token
		for i := range toks {
			if toks[i].Field == x.Field {
				t = &toks[i]
			}
		}
		if t == nil {
			if t, err = tx.issueExtra(ctx, o, x); err != nil {
				return err
			}
		}
		for _, name := range x.To {
			p, err := tx.roleParty(ctx, name, canary.KindOther, create, new([]string))
			if err != nil {
				return fmt.Errorf("order %s exposure %q: %w", row.Ref, x.Field, err)
			}
			if err := tx.checkPhoneSet(ctx, row, t, p); err != nil {
				return err
			}
			at := tx.now
			switch {
			case (p.Name == row.Courier || p.Name == row.Outlet) && !row.ShippedAt.IsZero():
				at = row.ShippedAt
			case !row.PlacedAt.IsZero() && tx.now.After(row.PlacedAt) && p.Name != row.Courier && p.Name != row.Outlet:
				at = row.PlacedAt
			}
			if err := tx.expose(ctx, inv, t, canary.Exposure{Party: p.Name, Field: x.Field, Quality: canary.QualityFull, ExposedAt: at}); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkPhoneSet refuses to show a number bound to an exposure set to a party
// outside that set: other orders share the number on the promise that their
// sets are identical, and a number never moves to another set.
func (tx *Tx) checkPhoneSet(ctx context.Context, row *orderRow, t *canary.Token, p *canary.Party) error {
	if t.Kind != canary.TokenPhone {
		return nil
	}
	var bound sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT bound_to FROM phones WHERE e164 = ?`, t.Value).Scan(&bound); err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("read phone %s: %w", t.Value, err)
	}
	set, shared := strings.CutPrefix(bound.String, "set:")
	if !shared || slices.Contains(strings.Split(set, "|"), norm.Fold(p.Name)) {
		return nil
	}
	return canary.Invalidf("order %s: %s %s serves every order shown to %s only, so it cannot be shown to %s: record %s on a phone field of its own",
		row.Ref, t.Field, t.Value, strings.ReplaceAll(set, "|", ", "), p.Name, p.Name)
}

// AddExposures records fields the order adds to the template (a fresh email
// registered in the courier's app) or more parties shown a template field.
func (d *DB) AddExposures(ctx context.Context, investigation, ref string, extra []ExtraExposure) (*canary.Order, error) {
	return d.changeOrder(ctx, investigation, ref, func(tx *Tx, inv *canary.Investigation, row *orderRow) error {
		if row.Stage() == "abandoned" {
			return canary.Invalidf("order %s was abandoned: its tokens are controls and must stay unexposed", ref)
		}
		return tx.extraExposures(ctx, inv, row, extra, false)
	})
}

func (tx *Tx) issueExtra(ctx context.Context, o owner, x ExtraExposure) (*canary.Token, error) {
	switch x.Kind {
	case canary.TokenEmail:
		return tx.issueEmail(ctx, o, x.Field)
	case canary.TokenName:
		return tx.issueName(ctx, o, x.Field)
	case canary.TokenAddress:
		if o.inv.Address == "" {
			return nil, canary.Invalidf("order %s exposure %q: the investigation has no base address", o.ref, x.Field)
		}
		return tx.issueAddress(ctx, o, x.Field)
	case canary.TokenPhone:
		t, err := tx.issuePhone(ctx, o, x.Field, "only:"+o.inv.Name+"/"+o.ref+"/"+x.Field)
		if err == nil && t == nil {
			return nil, canary.Invalidf("order %s exposure %q: the phone pool has no free number", o.ref, x.Field)
		}
		return t, err
	case canary.TokenFact:
		t, err := factToken(o.inv, x.Field, x.Value)
		if err != nil {
			return nil, err
		}
		return t, tx.insertToken(ctx, o, t)
	}
	return nil, canary.Invalidf("order %s exposure %q: kind %q: use email, phone, name, address or fact", o.ref, x.Field, x.Kind)
}

// fieldOf returns the template line a token of this order follows.
func fieldOf(t *canary.Token, payment string) (canary.Field, bool) {
	if t.Kind == canary.TokenFact {
		return canary.FactField(t.Field, payment), true
	}
	return canary.TemplateField(t.Field)
}

// PlaceOrder records that the order was placed at at: the platform and the
// merchant now see its tokens, its facts and the account's name.
func (d *DB) PlaceOrder(ctx context.Context, investigation, ref string, at time.Time, text string, facts []Fact) (*canary.Order, error) {
	return d.changeOrder(ctx, investigation, ref, func(tx *Tx, inv *canary.Investigation, row *orderRow) error {
		return tx.placeOrder(ctx, inv, row, at, text, facts)
	})
}

// changeOrder runs change on one order in a transaction and returns the
// order as it then stands.
func (d *DB) changeOrder(ctx context.Context, investigation, ref string, change func(*Tx, *canary.Investigation, *orderRow) error) (*canary.Order, error) {
	tx, err := d.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	inv, row, err := tx.orderRow(ctx, investigation, ref)
	if err != nil {
		return nil, err
	}
	if err := change(tx, inv, row); err != nil {
		return nil, err
	}
	o, err := tx.loadOrder(ctx, inv, ref)
	if err != nil {
		return nil, err
	}
	return o, tx.Commit()
}

func (tx *Tx) placeOrder(ctx context.Context, inv *canary.Investigation, row *orderRow, at time.Time, text string, facts []Fact) error {
	switch row.Stage() {
	case "abandoned":
		return canary.Invalidf("order %s was abandoned: its tokens are controls and must stay unexposed", row.Ref)
	case "placed", "shipped":
		return canary.Invalidf("order %s was already placed at %s", row.Ref, row.PlacedAt.In(inv.Location()).Format(time.RFC3339))
	}
	if at.IsZero() {
		return canary.Invalidf("order %s: placed time is required (--at)", row.Ref)
	}
	if at.After(tx.now.Add(clockSkew)) {
		return canary.Invalidf("order %s: placed at %s is in the future (now %s): check the time zone or the offset", row.Ref,
			at.In(inv.Location()).Format(time.RFC3339), tx.now.In(inv.Location()).Format(time.RFC3339))
	}
	if at.Before(row.CreatedAt.Add(-clockSkew)) {
		return canary.Invalidf("order %s: placed at %s, before its tokens were issued (%s)", row.Ref,
			at.In(inv.Location()).Format(time.RFC3339), row.CreatedAt.In(inv.Location()).Format(time.RFC3339))
	}
	row.PlacedAt = at.UTC()
	if _, err := tx.ExecContext(ctx, `UPDATE orders SET placed_at = ?, placed_text = ? WHERE id = ?`, fmtTime(row.PlacedAt), text, row.ID); err != nil {
		return fmt.Errorf("place order %s: %w", row.Ref, err)
	}
	if err := tx.audit(ctx, canary.InvestigationChain(inv.Name), "order placed", "order "+row.Ref, map[string]any{
		"placed_at": fmtTime(row.PlacedAt), "as_written": text}); err != nil {
		return err
	}
	facts = append([]Fact{{canary.FactPlacedAt, at.In(inv.Location()).Format("2006-01-02 15:04")}}, facts...)
	if err := tx.addFacts(ctx, inv, row, facts); err != nil {
		return err
	}
	if err := tx.exposeOrderStage(ctx, inv, row, canary.StagePlaced); err != nil {
		return err
	}
	// Merchants see the buyer's account name on every order.
	acctToks, err := tx.accountTokens(ctx, row.accountID)
	if err != nil {
		return err
	}
	for i := range acctToks {
		if f, ok := canary.TemplateField(acctToks[i].Field); ok {
			if err := tx.exposeStage(ctx, inv, &acctToks[i], f, row.path(), canary.StagePlaced); err != nil {
				return err
			}
		}
	}
	return nil
}

func (tx *Tx) addFacts(ctx context.Context, inv *canary.Investigation, row *orderRow, facts []Fact) error {
	o := owner{inv: inv, orderID: row.ID, ref: row.Ref}
	existing, err := tx.orderTokens(ctx, row.ID)
	if err != nil {
		return err
	}
	for _, f := range facts {
		if slices.ContainsFunc(existing, func(t canary.Token) bool { return t.Kind == canary.TokenFact && t.Field == f.Key }) {
			return canary.Invalidf("order %s: fact %s was already recorded", row.Ref, f.Key)
		}
		t, err := factToken(inv, f.Key, f.Value)
		if err != nil {
			return fmt.Errorf("order %s: %w", row.Ref, err)
		}
		if err := tx.insertToken(ctx, o, t); err != nil {
			return err
		}
		existing = append(existing, *t)
		// A fact learnt late was still seen at every stage already reached.
		field := canary.FactField(f.Key, row.Payment)
		for _, st := range []canary.Stage{canary.StagePlaced, canary.StageShipped} {
			if !row.path().Times[st].IsZero() {
				if err := tx.exposeStage(ctx, inv, t, field, row.path(), st); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (tx *Tx) exposeOrderStage(ctx context.Context, inv *canary.Investigation, row *orderRow, stage canary.Stage) error {
	toks, err := tx.orderTokens(ctx, row.ID)
	if err != nil {
		return err
	}
	for i := range toks {
		f, ok := fieldOf(&toks[i], row.Payment)
		if !ok {
			continue // the order's own extra fields have their own parties
		}
		if err := tx.exposeStage(ctx, inv, &toks[i], f, row.path(), stage); err != nil {
			return err
		}
	}
	return nil
}

// ShipOrder records that the courier (and outlet) received the label.
func (d *DB) ShipOrder(ctx context.Context, investigation, ref, courier, outlet string, at time.Time, facts []Fact) (*canary.Order, error) {
	return d.changeOrder(ctx, investigation, ref, func(tx *Tx, inv *canary.Investigation, row *orderRow) error {
		return tx.shipOrder(ctx, inv, row, courier, outlet, at, facts, false)
	})
}

func (tx *Tx) shipOrder(ctx context.Context, inv *canary.Investigation, row *orderRow, courier, outlet string, at time.Time, facts []Fact, create bool) error {
	switch row.Stage() {
	case "abandoned":
		return canary.Invalidf("order %s was abandoned", row.Ref)
	case "created":
		return canary.Invalidf("order %s is not placed yet: run `leaktrace order placed %s --at TIME` first", row.Ref, row.Ref)
	case "shipped":
		return canary.Invalidf("order %s was already shipped by %s", row.Ref, row.Courier)
	}
	if courier == "" {
		return canary.Invalidf("order %s: courier is required (--courier)", row.Ref)
	}
	if at.Before(row.PlacedAt) {
		return canary.Invalidf("order %s: shipped at %s, before it was placed (%s)", row.Ref,
			at.In(inv.Location()).Format(time.RFC3339), row.PlacedAt.In(inv.Location()).Format(time.RFC3339))
	}
	if at.After(tx.now.Add(clockSkew)) {
		return canary.Invalidf("order %s: shipped at %s is in the future: check the time zone or the offset", row.Ref, at.In(inv.Location()).Format(time.RFC3339))
	}
	var warn []string
	c, err := tx.roleParty(ctx, courier, canary.KindCourier, create, &warn)
	if err != nil {
		return err
	}
	var outletID any
	if outlet != "" {
		op, err := tx.roleParty(ctx, outlet, canary.KindCourier, create, &warn)
		if err != nil {
			return err
		}
		row.Outlet, outletID = op.Name, op.ID
	}
	row.Courier, row.ShippedAt = c.Name, at.UTC()
	if _, err := tx.ExecContext(ctx, `UPDATE orders SET courier_id = ?, outlet_id = ?, shipped_at = ? WHERE id = ?`,
		c.ID, outletID, fmtTime(row.ShippedAt), row.ID); err != nil {
		return fmt.Errorf("ship order %s: %w", row.Ref, err)
	}
	if err := tx.audit(ctx, canary.InvestigationChain(inv.Name), "order shipped", "order "+row.Ref, map[string]any{
		"courier": row.Courier, "outlet": row.Outlet, "shipped_at": fmtTime(row.ShippedAt)}); err != nil {
		return err
	}
	if err := tx.exposeOrderStage(ctx, inv, row, canary.StageShipped); err != nil {
		return err
	}
	return tx.addFacts(ctx, inv, row, facts)
}

// AbandonOrder turns a not-yet-placed order's tokens into never-exposed
// controls: any contact they receive measures background noise.
func (d *DB) AbandonOrder(ctx context.Context, investigation, ref string) (*canary.Order, error) {
	return d.changeOrder(ctx, investigation, ref, func(tx *Tx, inv *canary.Investigation, row *orderRow) error {
		if row.Stage() != "created" {
			return canary.Invalidf("order %s is %s: only an order that was never placed can be abandoned (its tokens were shown to parties)", ref, row.Stage())
		}
		if _, err := tx.ExecContext(ctx, `UPDATE orders SET abandoned_at = ? WHERE id = ?`, fmtTime(tx.now), row.ID); err != nil {
			return fmt.Errorf("abandon order %s: %w", ref, err)
		}
		return tx.audit(ctx, canary.InvestigationChain(inv.Name), "order abandoned", "order "+ref, map[string]any{})
	})
}

// Attachment kinds an order may carry.
var AttachmentKinds = []string{"checkout", "label", "confirmation", "chat"}

// AttachToOrder stores a file (a checkout screenshot, a label) as raw evidence.
func (d *DB) AttachToOrder(ctx context.Context, investigation, ref, fileName, what string, raw []byte) (string, error) {
	if !slices.Contains(AttachmentKinds, what) {
		return "", canary.Invalidf("--what %q: use one of %s", what, strings.Join(AttachmentKinds, ", "))
	}
	tx, err := d.begin(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	inv, row, err := tx.orderRow(ctx, investigation, ref)
	if err != nil {
		return "", err
	}
	sha, err := tx.putRaw(ctx, raw)
	if err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO order_attachments (order_id, raw_sha256, what, file_name, attached_at) VALUES (?, ?, ?, ?, ?)`,
		row.ID, sha, what, fileName, fmtTime(tx.now)); err != nil {
		return "", fmt.Errorf("attach to order %s: %w", ref, err)
	}
	if err := tx.audit(ctx, canary.InvestigationChain(inv.Name), "attachment stored", "order "+ref, map[string]any{
		"what": what, "file": fileName, "sha256": sha, "size": len(raw)}); err != nil {
		return "", err
	}
	return sha, tx.Commit()
}

// ImportOrders creates many orders in one transaction: a bad order anywhere
// in the file leaves the database as it was.
func (d *DB) ImportOrders(ctx context.Context, specs []OrderSpec) ([]*canary.Order, []string, error) {
	tx, err := d.begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	var out []*canary.Order
	var warn []string
	for i, s := range specs {
		o, w, err := tx.createOrder(ctx, s)
		if err != nil {
			return nil, nil, fmt.Errorf("order %d (%q): %w", i+1, s.Ref, err)
		}
		out = append(out, o)
		warn = append(warn, w...)
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, fmt.Errorf("commit import: %w", err)
	}
	return out, warn, nil
}
