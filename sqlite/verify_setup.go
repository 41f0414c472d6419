package sqlite

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/leaktrace/leaktrace/canary"
	"github.com/leaktrace/leaktrace/norm"
)

// An investigation's set-up decides whom a contact can blame: which token
// each order carried, which party saw it and when, when the order was
// placed and who shipped it. verifySetup reads those rows back against the
// entries that recorded them, as verifyContacts does for contacts.

// setupFact is one recorded fact of a set-up, keyed by chain and by what
// it is about ("token 12", "token 12 shown to ShopA", "order o-1 placed").
type setupFact struct {
	entry  canary.AuditEntry
	key    setupKey
	fields map[string]string
}

type setupKey struct{ chain, what string }

// setupEntry reads one entry into the fact it records, or ok=false for an
// entry that records no set-up row.
func setupEntry(e canary.AuditEntry) (key setupKey, fields map[string]string, ok bool, err error) {
	var what string
	switch e.Action {
	case "party added":
		return partyEntry(e)
	case "token issued", "exposure recorded", "order created", "order placed", "order shipped", "order abandoned",
		"account created", "attachment stored", "domain added", "phone imported", "phone retired":
	default:
		return key, nil, false, nil
	}
	d := json.NewDecoder(bytes.NewReader([]byte(e.Detail)))
	d.UseNumber()
	var raw map[string]any
	if err := d.Decode(&raw); err != nil {
		return key, nil, false, err
	}
	fields = map[string]string{}
	for k, v := range raw {
		if v != nil {
			fields[k] = fmt.Sprint(v)
		} else {
			fields[k] = ""
		}
	}
	switch e.Action {
	case "token issued":
		what = "token " + fields["token"]
		delete(fields, "token")
		fields["owner"] = asEncoded(e.Subject) // the order or account that carries it
	case "exposure recorded":
		what = e.Subject + " shown to " + fields["party"]
		delete(fields, "party")
	case "order created", "order placed", "order shipped", "order abandoned":
		what = e.Subject + " " + strings.TrimPrefix(e.Action, "order ")
	case "account created", "domain added", "phone imported":
		what = e.Subject
	case "phone retired":
		what = e.Subject + " retired"
		delete(fields, "why") // kept only in the entry
	case "attachment stored":
		// The bytes are checked with the raw objects. An order may hold one
		// file twice, as a label and as a checkout: all of it names the row.
		what = e.Subject + " attachment " + fields["file"] + " " + fields["sha256"] + " as " + fields["what"]
		fields = map[string]string{}
	}
	return setupKey{e.Chain, asEncoded(what)}, fields, true, nil
}

// partyEntry reads a "party added" entry: a party's kind and sender
// identities decide which mail is first-party. Lists compare as sets and
// the parent by its folded name, as it may have been typed.
func partyEntry(e canary.AuditEntry) (setupKey, map[string]string, bool, error) {
	var d struct {
		Kind, Parent     string
		Domains, Senders []string
	}
	if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
		return setupKey{}, nil, false, err
	}
	return setupKey{e.Chain, asEncoded(e.Subject)}, map[string]string{"kind": d.Kind, "parent": norm.Fold(d.Parent),
		"domains": sortedList(d.Domains), "senders": sortedList(d.Senders)}, true, nil
}

func sortedList(l []string) string {
	l = slices.Clone(l)
	for i := range l {
		l[i] = asEncoded(l[i])
	}
	slices.Sort(l)
	return strings.Join(l, "\n")
}

func (v verifier) verifySetup(ctx context.Context, chains map[string][]canary.AuditEntry, rep *canary.VerifyReport) error {
	// A key can be recorded more than once (one file attached twice):
	// rows and entries of a key are then matched one for one.
	recorded := map[setupKey][]setupFact{}
	for _, entries := range chains {
		for _, e := range entries {
			key, fields, ok, err := setupEntry(e)
			if err != nil {
				rep.Problems = append(rep.Problems, canary.Problem{Chain: e.Chain, Seq: e.Seq, Object: e.Subject, Kind: "unreadable entry",
					Detail: fmt.Sprintf("%q entry for %s: %v", e.Action, e.Subject, err)})
			}
			if ok {
				recorded[key] = append(recorded[key], setupFact{e, key, fields})
			}
		}
	}
	// Each query gives the investigation, what the row is about, and its
	// fields under the names its entry uses.
	queries := []struct {
		sql    string
		what   func(id string) string
		fields []string
	}{
		{`SELECT i.name, t.id, t.kind, t.field, t.value, t.match_key,
			CASE WHEN t.order_id IS NOT NULL THEN 'order ' || o.ref ELSE 'account ' || a.ref END
			FROM tokens t JOIN investigations i ON i.id = t.investigation_id
			LEFT JOIN orders o ON o.id = t.order_id LEFT JOIN accounts a ON a.id = t.account_id ORDER BY t.id`,
			func(id string) string { return "token " + id }, []string{"kind", "field", "value", "key", "owner"}},
		{`SELECT i.name, 'order ' || o.ref || ' created', a.ref, pl.name, coalesce(m.name, ''), o.payment
			FROM orders o JOIN investigations i ON i.id = o.investigation_id JOIN accounts a ON a.id = o.account_id
			JOIN parties pl ON pl.id = o.platform_id LEFT JOIN parties m ON m.id = o.merchant_id ORDER BY o.id`,
			nil, []string{"account", "platform", "merchant", "payment"}},
		{`SELECT i.name, 'order ' || o.ref || ' abandoned'
			FROM orders o JOIN investigations i ON i.id = o.investigation_id WHERE o.abandoned_at IS NOT NULL ORDER BY o.id`,
			nil, nil},
		{`SELECT i.name, 'account ' || a.ref, p.name FROM accounts a JOIN investigations i ON i.id = a.investigation_id
			JOIN parties p ON p.id = a.platform_id ORDER BY a.id`,
			nil, []string{"platform"}},
		{`SELECT i.name, 'order ' || o.ref || ' attachment ' || x.file_name || ' ' || x.raw_sha256 || ' as ' || x.what
			FROM order_attachments x JOIN orders o ON o.id = x.order_id JOIN investigations i ON i.id = o.investigation_id
			ORDER BY o.id, x.file_name`,
			nil, nil},
		// The shared chain's rows are named here by an empty investigation.
		{`SELECT '', 'domain ' || name, CASE WHEN plus THEN 'true' ELSE 'false' END FROM domains ORDER BY name`,
			nil, []string{"plus"}},
		{`SELECT '', 'phone ' || e164, provider, label, quarantine_until FROM phones ORDER BY e164`,
			nil, []string{"provider", "label", "quarantine_until"}},
		{`SELECT '', 'phone ' || e164 || ' retired' FROM phones WHERE retired_at IS NOT NULL ORDER BY e164`,
			nil, nil},
		{`SELECT '', 'party ' || p.name, p.kind, coalesce(pp.name, ''),
			coalesce((SELECT group_concat(value, char(10) ORDER BY value) FROM party_senders WHERE party_id = p.id AND kind = 'domain'), ''),
			coalesce((SELECT group_concat(value, char(10) ORDER BY value) FROM party_senders WHERE party_id = p.id AND kind = 'sender'), '')
			FROM parties p LEFT JOIN parties pp ON pp.id = p.parent_id ORDER BY p.id`,
			nil, []string{"kind", "parent", "domains", "senders"}},
		{`SELECT i.name, 'token ' || e.token_id || ' shown to ' || p.name, e.field, e.quality, e.exposed_at
			FROM exposures e JOIN parties p ON p.id = e.party_id JOIN tokens t ON t.id = e.token_id JOIN investigations i ON i.id = t.investigation_id ORDER BY e.token_id, p.name`,
			nil, []string{"field", "quality", "exposed_at"}},
		{`SELECT i.name, 'order ' || o.ref || ' placed', o.placed_at, coalesce(o.placed_text, '')
			FROM orders o JOIN investigations i ON i.id = o.investigation_id WHERE o.placed_at IS NOT NULL ORDER BY o.id`,
			nil, []string{"placed_at", "as_written"}},
		{`SELECT i.name, 'order ' || o.ref || ' shipped', coalesce(c.name, ''), coalesce(ou.name, ''), o.shipped_at
			FROM orders o JOIN investigations i ON i.id = o.investigation_id
			LEFT JOIN parties c ON c.id = o.courier_id LEFT JOIN parties ou ON ou.id = o.outlet_id WHERE o.shipped_at IS NOT NULL ORDER BY o.id`,
			nil, []string{"courier", "outlet", "shipped_at"}},
	}
	used := map[setupKey][]bool{}
	for _, q := range queries {
		if err := v.compareSetupRows(ctx, q.sql, q.what, q.fields, chains, recorded, used, rep); err != nil {
			return err
		}
	}
	var gone []setupFact
	for k, fs := range recorded {
		for i, f := range fs {
			if used[k] == nil || !used[k][i] {
				gone = append(gone, f)
			}
		}
	}
	slices.SortFunc(gone, func(a, b setupFact) int {
		return cmp.Or(strings.Compare(a.entry.Chain, b.entry.Chain), cmp.Compare(a.entry.Seq, b.entry.Seq))
	})
	for _, f := range gone {
		e := f.entry
		rep.Problems = append(rep.Problems, canary.Problem{Chain: e.Chain, Seq: e.Seq, Object: f.key.what, Kind: "missing row",
			Detail: fmt.Sprintf("%s was recorded but is no longer in the database", f.key.what)})
	}
	return nil
}

func (v verifier) compareSetupRows(ctx context.Context, query string, what func(string) string, names []string,
	chains map[string][]canary.AuditEntry, recorded map[setupKey][]setupFact, used map[setupKey][]bool, rep *canary.VerifyReport) error {
	rows, err := v.tx.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("read set-up rows to verify: %w", err)
	}
	defer rows.Close()
	var order []setupKey // keys in the order the rows came
	byKey := map[setupKey][][]string{}
	for rows.Next() {
		vals := make([]string, 2+len(names))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("read set-up rows to verify: %w", err)
		}
		chain := canary.SharedChain
		if vals[0] != "" {
			chain = canary.InvestigationChain(vals[0])
		}
		if _, ok := chains[chain]; !ok {
			continue
		}
		rep.Rows++
		key := setupKey{chain, vals[1]}
		if what != nil {
			key.what = what(vals[1])
		}
		key.what = asEncoded(key.what)
		if byKey[key] == nil {
			order = append(order, key)
		}
		byKey[key] = append(byKey[key], vals[2:])
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read set-up rows to verify: %w", err)
	}
	for _, key := range order {
		matchSetupRows(key, names, byKey[key], recorded[key], used, rep)
	}
	return nil
}

// matchSetupRows pairs the rows of one key with its entries. Usually there
// is one of each; where text that is not UTF-8 makes two keys read alike,
// or one file is attached twice, rows first take the entries they equal,
// and only the rest are compared field by field.
func matchSetupRows(key setupKey, names []string, rows [][]string, facts []setupFact, used map[setupKey][]bool, rep *canary.VerifyReport) {
	if used[key] == nil {
		used[key] = make([]bool, len(facts))
	}
	taken := used[key]
	diffs := func(vals []string, f setupFact) []string {
		var out []string
		for i, name := range names {
			if want, ok := f.fields[name]; ok && want != setupValue(name, vals[i]) {
				out = append(out, fmt.Sprintf("%s is %q in the database, %q in the entry", name, vals[i], want))
			}
		}
		return out
	}
	rest := rows[:0:0]
	for _, vals := range rows {
		matched := false
		for i, f := range facts {
			if !taken[i] && len(diffs(vals, f)) == 0 {
				taken[i], matched = true, true
				break
			}
		}
		if !matched {
			rest = append(rest, vals)
		}
	}
	for _, vals := range rest {
		i := slices.Index(taken, false)
		if i < 0 {
			rep.Problems = append(rep.Problems, canary.Problem{Chain: key.chain, Object: key.what, Kind: "unrecorded row",
				Detail: fmt.Sprintf("%s is in no entry of the chain %s", key.what, key.chain)})
			continue
		}
		taken[i] = true
		f := facts[i]
		rep.Problems = append(rep.Problems, canary.Problem{Chain: key.chain, Seq: f.entry.Seq, Object: key.what, Kind: "changed row",
			Detail: fmt.Sprintf("%s differs from its %q entry: %s", key.what, f.entry.Action, strings.Join(diffs(vals, f), "; "))})
	}
}

// setupValue is a row's value as its entry would hold it: text as the
// entry's JSON encoded it, and a parent party by its folded name, since
// it may have been typed otherwise.
func setupValue(name, v string) string {
	v = asEncoded(v)
	if name == "parent" {
		return norm.Fold(v)
	}
	return v
}
