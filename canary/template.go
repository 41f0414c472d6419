package canary

import (
	"slices"
	"time"
)

// Stage is a step of an order's life at which parties are shown its data.
type Stage string

// Stages of exposure.
const (
	StageAccount Stage = "account" // the account was registered on the platform
	StagePlaced  Stage = "placed"  // the order was placed: platform and merchant see it
	StageShipped Stage = "shipped" // the label went to the courier
)

// Role is a position on an order's path, resolved to a party per order.
type Role string

// Roles on an order's path. An outlet (courier depot, pickup point) sees the
// label like the courier does.
const (
	RolePlatform Role = "platform"
	RoleMerchant Role = "merchant"
	RoleCourier  Role = "courier"
	RoleOutlet   Role = "outlet"
)

// Seen says that a role is shown a field at a stage.
type Seen struct {
	Role  Role
	Stage Stage
}

// Field is one line of the exposure template: a field of an order and who
// is shown it. When unsure whether a party saw a field the template lists it:
// a missing exposure can convict an innocent party, an extra one only weakens
// the evidence.
type Field struct {
	Name    string
	Kind    TokenKind
	Account bool   // belongs to the account, shared by its orders
	Where   string // what the order sheet tells the shopper
	Seen    []Seen
}

// Fields of the template. Fact fields are keyed by the fact's name.
const (
	FieldAccountEmail  = "account email"
	FieldAccountPhone  = "account phone"
	FieldAccountName   = "account name"
	FieldChatEmail     = "merchant chat email"
	FieldShippingName  = "shipping name"
	FieldShippingPhone = "shipping phone"
	FieldShippingAddr  = "shipping address"
)

// Fact keys with a meaning of their own.
const (
	FactItem     = "item"
	FactPrice    = "price"
	FactPlacedAt = "placed_at"
	FactOrderNo  = "order_no"
	FactTracking = "tracking_no"
	FactWeight   = "weight"
)

var label = []Seen{
	{RolePlatform, StagePlaced}, {RoleMerchant, StagePlaced},
	{RoleCourier, StageShipped}, {RoleOutlet, StageShipped},
}

// AccountFields are issued once per account.
var AccountFields = []Field{
	{Name: FieldAccountEmail, Kind: TokenEmail, Account: true,
		Where: "platform sign-up: email", Seen: []Seen{{RolePlatform, StageAccount}}},
	{Name: FieldAccountPhone, Kind: TokenPhone, Account: true,
		Where: "platform sign-up: phone (one-time codes)", Seen: []Seen{{RolePlatform, StageAccount}}},
	// Merchants see the buyer's name or username on every order.
	{Name: FieldAccountName, Kind: TokenName, Account: true,
		Where: "platform profile: name / username",
		Seen:  []Seen{{RolePlatform, StageAccount}, {RoleMerchant, StagePlaced}}},
}

// OrderFields are issued for every order when it is created.
var OrderFields = []Field{
	{Name: FieldChatEmail, Kind: TokenEmail, Where: "chat with the shop: email, if it asks for one",
		Seen: []Seen{{RolePlatform, StagePlaced}, {RoleMerchant, StagePlaced}}},
	{Name: FieldShippingName, Kind: TokenName, Where: "checkout: recipient name", Seen: label},
	{Name: FieldShippingPhone, Kind: TokenPhone, Where: "checkout: recipient phone", Seen: label},
	{Name: FieldShippingAddr, Kind: TokenAddress, Where: "checkout: delivery address", Seen: label},
}

// FactField returns the template line for an order fact. Item, price and
// time go to the courier on cash-on-delivery orders (it collects the money);
// labels on the big marketplaces print the order number; a fact the template
// does not know is treated as printed on the label.
func FactField(key, payment string) Field {
	f := Field{Name: key, Kind: TokenFact, Where: "from the order page"}
	switch key {
	case FactItem, FactPrice, FactPlacedAt:
		f.Seen = []Seen{{RolePlatform, StagePlaced}, {RoleMerchant, StagePlaced}}
		if payment == PaymentCOD {
			f.Seen = label
		}
	case FactTracking:
		f.Seen = []Seen{{RolePlatform, StageShipped}, {RoleMerchant, StageShipped},
			{RoleCourier, StageShipped}, {RoleOutlet, StageShipped}}
	default:
		f.Seen = label
	}
	return f
}

// UniqueFact reports whether a fact identifies one order by itself.
func UniqueFact(key string) bool {
	return key == FactOrderNo || key == FactTracking
}

// TemplateField returns the template line named name, and whether it exists.
func TemplateField(name string) (Field, bool) {
	for _, f := range slices.Concat(AccountFields, OrderFields) {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Path is the parties of one order by role, and when each stage happened.
type Path struct {
	Platform, Merchant, Courier, Outlet string
	Times                               map[Stage]time.Time
}

// PathOf returns the order's path. Account creation time comes from acct.
func PathOf(o *Order, acctCreated time.Time) Path {
	return Path{
		Platform: o.Platform, Merchant: o.Merchant, Courier: o.Courier, Outlet: o.Outlet,
		Times: map[Stage]time.Time{
			StageAccount: acctCreated, StagePlaced: o.PlacedAt, StageShipped: o.ShippedAt,
		},
	}
}

func (p Path) Party(r Role) string {
	switch r {
	case RolePlatform:
		return p.Platform
	case RoleMerchant:
		return p.Merchant
	case RoleCourier:
		return p.Courier
	case RoleOutlet:
		return p.Outlet
	}
	return ""
}

// ExposuresAt returns the exposures of field that happen when the order
// reaches stage: one per party on the path the template shows the field to.
func (f Field) ExposuresAt(p Path, stage Stage) []Exposure {
	var out []Exposure
	for _, s := range f.Seen {
		if s.Stage != stage {
			continue
		}
		party := p.Party(s.Role)
		if party == "" || slices.ContainsFunc(out, func(e Exposure) bool { return e.Party == party }) {
			continue
		}
		out = append(out, Exposure{Party: party, Field: f.Name, Quality: QualityFull, ExposedAt: p.Times[stage]})
	}
	return out
}
