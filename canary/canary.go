// Package canary holds leaktrace's domain: investigations, parties, orders,
// the canary tokens issued for them, who was shown each token, and the
// contacts that later reached a token. It knows nothing of SQL or protocols.
package canary

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
	ErrInvalid  = errors.New("invalid")
)

// Invalidf returns an ErrInvalid with a message saying what to fix.
func Invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Locales leaktrace knows how to make personas for.
const (
	LocaleVietnam = "vi-VN"
	LocaleChina   = "zh-CN"
	LocaleUS      = "en-US"
)

// Locales lists the supported locales in the order help texts show them.
var Locales = []string{LocaleVietnam, LocaleChina, LocaleUS}

// Region is the phone-number region of a locale (for numbers written without a country code).
func Region(locale string) string {
	switch locale {
	case LocaleVietnam:
		return "VN"
	case LocaleChina:
		return "CN"
	default:
		return "US"
	}
}

// CallingCode is the E.164 prefix of a locale's country: orders draw pool
// numbers of their own country, so a scammer sees a plausible local number.
func CallingCode(locale string) string {
	switch locale {
	case LocaleVietnam:
		return "+84"
	case LocaleChina:
		return "+86"
	default:
		return "+1"
	}
}

// DefaultTimeZone is the zone in which times without an offset are read.
func DefaultTimeZone(locale string) string {
	switch locale {
	case LocaleVietnam:
		return "Asia/Ho_Chi_Minh"
	case LocaleChina:
		return "Asia/Shanghai"
	default:
		return "America/New_York"
	}
}

// ValidLocale reports whether leaktrace can make personas for locale.
func ValidLocale(locale string) bool {
	for _, l := range Locales {
		if l == locale {
			return true
		}
	}
	return false
}

// Investigation is one study. Its Secret keys the HMAC check in its email tokens.
type Investigation struct {
	ID        int64
	Name      string
	Locale    string
	TimeZone  string
	Address   string // the advocate's real delivery address, base of address variants
	Secret    []byte
	CreatedAt time.Time
}

// Location returns the investigation's time zone, UTC if it cannot be loaded.
func (inv *Investigation) Location() *time.Location {
	loc, err := time.LoadLocation(inv.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// PartyKind says what role an organisation plays on an order's path.
type PartyKind string

// Party kinds from SPEC.md. Public may be exposed but never gets a verdict.
const (
	KindPlatform   PartyKind = "platform"
	KindMerchant   PartyKind = "merchant"
	KindCourier    PartyKind = "courier"
	KindPayment    PartyKind = "payment"
	KindLivestream PartyKind = "livestream"
	KindBroker     PartyKind = "broker"
	KindSoftware   PartyKind = "software"
	KindOther      PartyKind = "other"
	KindPublic     PartyKind = "public"
)

// PartyKinds lists every valid kind.
var PartyKinds = []PartyKind{KindPlatform, KindMerchant, KindCourier, KindPayment,
	KindLivestream, KindBroker, KindSoftware, KindOther, KindPublic}

// ValidPartyKind reports whether k is one of PartyKinds.
func ValidPartyKind(k PartyKind) bool {
	for _, v := range PartyKinds {
		if v == k {
			return true
		}
	}
	return false
}

// Party is an organisation that can receive personal data.
type Party struct {
	ID      int64
	Name    string
	Kind    PartyKind
	Parent  string
	Domains []string // mail domains it sends from
	Senders []string // SMS sender IDs and phone numbers it sends or calls from
}

// Payment methods of an order.
const (
	PaymentPrepaid = "prepaid"
	PaymentCOD     = "cod"
)

// Account is a platform login that several orders may use.
type Account struct {
	ID            int64
	Investigation string
	Ref           string
	Platform      string
	CreatedAt     time.Time
}

// Order is one real test purchase.
type Order struct {
	ID            int64
	Investigation string
	Ref           string
	Account       string
	Platform      string
	Merchant      string
	Courier       string
	Outlet        string
	Payment       string
	CreatedAt     time.Time
	PlacedAt      time.Time
	ShippedAt     time.Time
	AbandonedAt   time.Time
	Tokens        []Token
}

// Stage is where an order is in its life cycle.
func (o *Order) Stage() string {
	switch {
	case !o.AbandonedAt.IsZero():
		return "abandoned"
	case !o.ShippedAt.IsZero():
		return "shipped"
	case !o.PlacedAt.IsZero():
		return "placed"
	default:
		return "created"
	}
}

// TokenKind is what sort of canary value a token is.
type TokenKind string

// Token kinds.
const (
	TokenEmail   TokenKind = "email"
	TokenPhone   TokenKind = "phone"
	TokenName    TokenKind = "name"
	TokenAddress TokenKind = "address"
	TokenFact    TokenKind = "fact"
)

// ValidTokenKind reports whether k is a token kind.
func ValidTokenKind(k TokenKind) bool {
	switch k {
	case TokenEmail, TokenPhone, TokenName, TokenAddress, TokenFact:
		return true
	}
	return false
}

// Quality says how much of a token a party saw. Only QualityFull counts as seen.
type Quality string

// Exposure qualities.
const (
	QualityFull    Quality = "full"
	QualityMasked  Quality = "masked"
	QualityVirtual Quality = "virtual"
)

// Exposure records that a party was shown a token.
type Exposure struct {
	Party     string
	Field     string
	Quality   Quality
	ExposedAt time.Time
}

// Token is one canary value and the parties that were shown it.
type Token struct {
	ID            int64
	Investigation string
	Order         string   // order ref; "" for an account's token
	Account       string   // account ref
	Orders        []string // the orders whose record holds it: its order, or every order of its account
	Kind          TokenKind
	Field         string // "shipping phone", "price", ...
	Value         string // exactly what the shopper typed or the order showed
	Key           string // folded matching key (unique for email, name, address)
	GreetKey      string // name tokens: the folded part greetings quote; "" if not unique
	Unique        bool   // facts that identify one order (order and tracking numbers)
	IssuedAt      time.Time
	Exposures     []Exposure
}

// SeenBy returns the parties that had fully seen the token at time t
// (every full exposure when t is zero).
func (t *Token) SeenBy(at time.Time) []string {
	var out []string
	for _, e := range t.Exposures {
		if e.Quality != QualityFull {
			continue
		}
		if !at.IsZero() && e.ExposedAt.After(at) {
			continue
		}
		out = append(out, e.Party)
	}
	return out
}

// Domain is a canary mail domain or, for users with none, a plus-address base.
type Domain struct {
	Name    string // "canary.example", or the mailbox "me@gmail.com" for plus style
	Plus    bool
	AddedAt time.Time
}

// Phone is an alias number in the pool.
type Phone struct {
	E164            string
	Provider        string
	Label           string
	ImportedAt      time.Time
	QuarantineUntil time.Time
	RetiredAt       time.Time
	BoundTo         string // the exposure signature it serves; "" while free
	Orders          int    // tokens issued on it
}

// Channel is how a contact arrived.
type Channel string

// Contact channels.
const (
	ChannelEmail  Channel = "email"
	ChannelSMS    Channel = "sms"
	ChannelCall   Channel = "call"
	ChannelPostal Channel = "postal"
	ChannelChat   Channel = "chat"
	ChannelOther  Channel = "other"
)

// ValidChannel reports whether c is a contact channel.
func ValidChannel(c Channel) bool {
	switch c {
	case ChannelEmail, ChannelSMS, ChannelCall, ChannelPostal, ChannelChat, ChannelOther:
		return true
	}
	return false
}

// How a match was found.
const (
	HowRecipient = "recipient" // envelope, To, Delivered-To, X-Original-To, the number texted or called
	HowHeader    = "header"    // Cc, Reply-To, Received for, other headers
	HowBody      = "body"      // the value written in the text
	HowGreeting  = "greeting"  // a name key after a greeting word or title
	HowEnvelope  = "envelope"  // a postal envelope's address block
	HowFact      = "fact"      // a quoted order fact
)

// Match says a contact reached or quoted a token.
type Match struct {
	TokenID int64
	Kind    TokenKind
	Value   string
	How     string
	Partial bool   // a masked number or near miss: narrows nothing on its own
	Excerpt string // the text as the contact wrote it
}

// Marks a person can set on a contact.
const (
	MarkFirstParty = "first-party"
	MarkScam       = "scam"
	MarkIgnore     = "ignore"
)

// ValidMark reports whether m is a mark.
func ValidMark(m string) bool {
	return m == MarkFirstParty || m == MarkScam || m == MarkIgnore
}

// Contact is one incoming event with its raw evidence.
type Contact struct {
	ID           int64
	Channel      Channel
	ReceivedAt   time.Time
	ReceivedText string // the time as the source wrote it
	Source       string // where it came from: "eml:/path/x.eml", "contact add", "smtp"
	From         string
	To           []string
	Subject      string
	RawSHA256    string
	RawSize      int64
	Matches      []Match
	Unissued     []string // canary addresses or pool numbers reached that no token holds
	Problems     []string
	Auth         string // what the receiving side saw (JSON): envelope, Received chain, authentication results
	// AuthDomains are the domains the mail was authenticated for at receipt:
	// a DKIM signature that verified, or an SPF pass aligned with From.
	AuthDomains []string
	Mark        string
	MarkWhy     string
}
