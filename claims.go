package nextidentity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Profile holds the standard profile claims (OpenID Connect Core 5.1) that
// both the ID token and the userinfo response carry. A claim the provider
// did not send is the zero value.
type Profile struct {
	// Name is the "name" claim: the full name, for display.
	Name string
	// GivenName is the "given_name" claim.
	GivenName string
	// FamilyName is the "family_name" claim.
	FamilyName string
	// Email is the "email" claim. Trust it as the user's address only when
	// EmailVerified is true.
	Email string
	// EmailVerified is the "email_verified" claim (a JSON boolean, or the
	// strings "true"/"false" some deployments send).
	EmailVerified bool
	// PhoneNumber is the "phone_number" claim, E.164 when the provider
	// follows the specification.
	PhoneNumber string
	// PhoneNumberVerified is the "phone_number_verified" claim.
	PhoneNumberVerified bool
	// Locale is the "locale" claim, a BCP 47 tag such as "fr-CA".
	Locale string
	// UpdatedAt is the "updated_at" claim: when the profile last changed.
	// Next Identity sends a string ("2021-01-07 20:44:35.176625 +0000");
	// a NumericDate and RFC 3339 are read too.
	UpdatedAt time.Time
}

// profileClaims is Profile as decoded from JSON.
type profileClaims struct {
	Name                string      `json:"name"`
	GivenName           string      `json:"given_name"`
	FamilyName          string      `json:"family_name"`
	Email               string      `json:"email"`
	EmailVerified       flexBool    `json:"email_verified"`
	PhoneNumber         string      `json:"phone_number"`
	PhoneNumberVerified flexBool    `json:"phone_number_verified"`
	Locale              string      `json:"locale"`
	UpdatedAt           updatedTime `json:"updated_at"`
}

func (p *profileClaims) profile() Profile {
	return Profile{
		Name:                p.Name,
		GivenName:           p.GivenName,
		FamilyName:          p.FamilyName,
		Email:               p.Email,
		EmailVerified:       bool(p.EmailVerified),
		PhoneNumber:         p.PhoneNumber,
		PhoneNumberVerified: bool(p.PhoneNumberVerified),
		Locale:              p.Locale,
		UpdatedAt:           p.UpdatedAt.Time,
	}
}

var jsonNull = []byte("null")

// audience is the "aud" claim: a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, jsonNull) {
		*a = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		s, err := unquote(b)
		if err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return errors.New(`"aud" must be a string or an array of strings`)
	}
	*a = l
	return nil
}

// maxUnix is 9999-12-31T23:59:59Z: later NumericDates are refused rather than
// overflowing time.Time arithmetic.
const maxUnix = 253402300799

// numericDate is a JWT NumericDate (RFC 7519 section 2): seconds since the
// epoch, integer or fractional. set records whether the claim was present.
type numericDate struct {
	t   time.Time
	set bool
}

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, jsonNull) {
		*d = numericDate{}
		return nil
	}
	t, err := parseUnix(b)
	if err != nil {
		return err
	}
	*d = numericDate{t: t, set: true}
	return nil
}

func parseUnix(b []byte) (time.Time, error) {
	// Fast path, no allocation: a plain non-negative integer, as nearly every
	// provider sends. 12 digits always fit maxUnix's range check below.
	if n := len(b); n > 0 && n <= 12 {
		var i int64
		plain := true
		for _, c := range b {
			if c < '0' || c > '9' {
				plain = false
				break
			}
			i = i*10 + int64(c-'0')
		}
		if plain {
			if i > maxUnix {
				return time.Time{}, fmt.Errorf("NumericDate %d out of range", i)
			}
			return time.Unix(i, 0), nil
		}
	}
	s := string(b)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxUnix {
		return time.Time{}, fmt.Errorf("invalid NumericDate %.40q", s)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// flexBool accepts true/false and the strings "true"/"false", which some
// deployments send.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true", `"true"`:
		*f = true
	case "false", `"false"`, "null":
		*f = false
	default:
		return fmt.Errorf("invalid boolean %.40q", b)
	}
	return nil
}

// updatedTime is the "updated_at" claim, read into Profile.UpdatedAt. Next
// Identity sends it as a string like "2021-01-07 20:44:35.176625 +0000";
// OpenID Connect says a NumericDate. Both are accepted, as is RFC 3339.
type updatedTime struct{ time.Time }

// updatedAtLayouts are tried in order for string values.
var updatedAtLayouts = []string{
	"2006-01-02 15:04:05.999999999 -0700",
	"2006-01-02 15:04:05.999999999 -0700 MST",
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
}

// UnmarshalJSON accepts a string in the provider's format or RFC 3339, a
// number of seconds since the epoch, or null.
func (u *updatedTime) UnmarshalJSON(b []byte) error {
	t, err := parseUpdatedAt(b)
	if err != nil {
		return err
	}
	u.Time = t
	return nil
}

// parseUpdatedAt parses a raw JSON "updated_at" value (a quoted string or a
// number). null and "" give the zero time.
func parseUpdatedAt(raw []byte) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, jsonNull) {
		return time.Time{}, nil
	}
	if raw[0] != '"' {
		t, err := parseUnix(raw)
		if err != nil {
			return time.Time{}, fmt.Errorf("updated_at: %w", err)
		}
		return t.UTC(), nil
	}
	s, err := unquote(raw)
	if err != nil {
		return time.Time{}, fmt.Errorf("updated_at: %w", err)
	}
	if s == "" {
		return time.Time{}, nil
	}
	if t, ok := fastUpdatedAt(s, time.Local); ok {
		return t, nil
	}
	for _, layout := range updatedAtLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("updated_at: unrecognised time %.64q", s)
}

// unquote decodes a JSON string literal. Literals without escapes (nearly
// all) are sliced directly instead of going through another json.Unmarshal,
// which would validate the bytes again; this is on the verification hot path.
func unquote(b []byte) (string, error) {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		inner := b[1 : len(b)-1]
		plain := true
		for _, c := range inner {
			if c == '\\' || c == '"' || c < 0x20 {
				plain = false
				break
			}
		}
		if plain {
			return string(inner), nil
		}
	}
	var s string
	err := json.Unmarshal(b, &s)
	return s, err
}

// jsonNames lists the JSON names of t's fields, embedded structs included.
func jsonNames(t reflect.Type) [][]byte {
	var names [][]byte
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			names = append(names, jsonNames(f.Type)...)
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, []byte(name))
		}
	}
	return names
}

var (
	claimNames  = jsonNames(reflect.TypeFor[idClaims]())
	headerNames = jsonNames(reflect.TypeFor[joseHeader]())
	infoNames   = jsonNames(reflect.TypeFor[userInfoJSON]())
)

// foldedName returns a top-level member name of the JSON object obj that
// differs from one of names only in case, and true if there is one.
// encoding/json matches member names case-insensitively and keeps the last
// match, so {"exp":1,"EXP":2} would decode exp as 2; JWT and JSON member
// names are case-sensitive (RFC 7519 section 4), so such a token is refused
// rather than read either way. obj is assumed to be JSON that
// json.Unmarshal accepts.
func foldedName(obj []byte, names [][]byte) (string, bool) {
	depth, wantKey := 0, false
	for i := 0; i < len(obj); i++ {
		switch obj[i] {
		case '{', '[':
			depth++
			wantKey = depth == 1 && obj[i] == '{'
		case '}', ']':
			depth--
		case ',':
			wantKey = depth == 1
		case '"':
			end, escaped := i+1, false
			for ; end < len(obj) && obj[end] != '"'; end++ {
				if obj[end] == '\\' {
					end++
					escaped = true
				}
			}
			if end >= len(obj) {
				return "", false
			}
			if wantKey {
				key := obj[i+1 : end]
				if escaped {
					var s string
					if json.Unmarshal(obj[i:end+1], &s) != nil {
						return "", false
					}
					key = []byte(s)
				}
				if name, ok := foldedMatch(key, names); ok {
					return name, true
				}
				wantKey = false
			}
			i = end
		}
	}
	return "", false
}

func foldedMatch(key []byte, names [][]byte) (string, bool) {
	for _, n := range names {
		if bytes.Equal(key, n) {
			return "", false
		}
	}
	for _, n := range names {
		// Simple folding turns an ASCII letter into at most 3 bytes (the
		// Kelvin sign), so a longer key cannot match: this also bounds the
		// name quoted in the error.
		if len(key) <= 3*len(n) && bytes.EqualFold(key, n) {
			return string(key), true
		}
	}
	return "", false
}

// fastUpdatedAt parses the provider's own updated_at format with a UTC
// offset, "2021-01-07 20:44:35.176625 +0000" (fraction optional, 1 to 9
// digits), without time.Parse, which took a tenth of an HS256
// verification. It gives exactly what time.ParseInLocation gives for that
// layout in local (time.Parse: time.Local), and false for anything else
// (another offset, a field out of range), which then goes through
// time.Parse as before.
func fastUpdatedAt(s string, local *time.Location) (time.Time, bool) {
	const tail = " +0000"
	if len(s) < 19+len(tail) || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' ||
		s[len(s)-len(tail):] != tail {
		return time.Time{}, false
	}
	num := func(b string) (int, bool) {
		n := 0
		for i := 0; i < len(b); i++ {
			c := b[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(s[0:4])
	month, ok2 := num(s[5:7])
	day, ok3 := num(s[8:10])
	hour, ok4 := num(s[11:13])
	minute, ok5 := num(s[14:16])
	sec, ok6 := num(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := s[19 : len(s)-len(tail)]; frac != "" {
		digits := frac[1:]
		if frac[0] != '.' || len(digits) < 1 || len(digits) > 9 {
			return time.Time{}, false
		}
		n, ok := num(digits)
		if !ok {
			return time.Time{}, false
		}
		for range 9 - len(digits) {
			n *= 10
		}
		nsec = n
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	// As time.Parse does for a numeric offset: the local zone when its
	// offset at that instant is the same, else a fixed zone with no name.
	if _, off := t.In(local).Zone(); off == 0 {
		return t.In(local), true
	}
	return t.In(time.FixedZone("", 0)), true
}

// daysIn is the number of days of month m in year.
func daysIn(m time.Month, year int) int {
	if m == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31 - int(m-1)%7%2
}
