package nihttp

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/oidc-kit/nextidentity"
)

// The binary session encoding (Session.MarshalBinary): what every store
// keeps, so that loading a session reads each field once instead of
// scanning JSON (and the ID token's claims, JSON nested in JSON) twice.
//
//	version (1) | flags (uvarint) | ID | Subject | SID |
//	CreatedAt | ExpiresAt | LastSeen | IdleExpiresAt | [AuthTime] |
//	[Token: AccessToken | TokenType | RefreshToken | RawIDToken | Expiry | Scope |
//	 [IDToken: alg, when its claims are RawIDToken's payload;
//	  else IDToken.MarshalBinary]]
//
// A string or byte field is a uvarint length and the bytes; a time is
// described at appendTime. Nothing is stored twice: when the verified
// claims are exactly the raw ID token's payload (as they are after a
// sign-in), only the raw ID token is kept and the claims are read back
// from it. AuthTime is there only when it is not the ID token's auth_time
// (flagAuthTime); otherwise it is read back from the ID token.
const sessionBinaryVersion = 1

// maxSessionBinary bounds a binary session, so a decoder never allocates
// more than this whatever its input claims (the cookie store's sessions
// are far smaller; server-side stores take large custom claims).
const maxSessionBinary = 1 << 20

const (
	flagToken        = 1 << iota // Token is set
	flagIDToken                  // Token.IDToken is set
	flagClaimsInRaw              // Token.IDToken's claims are Token.RawIDToken's payload
	flagAuthTime                 // AuthTime is encoded: it is not Token.IDToken's auth_time
	flagsKnown       = flagToken | flagIDToken | flagClaimsInRaw | flagAuthTime
	maxZoneOffsetSec = 24 * 60 * 60
)

// errBadSession is what UnmarshalBinary wraps for any input it cannot
// read; the stores report it as ErrNoSession (the session ends cleanly).
var errBadSession = errors.New("nihttp: not a binary session")

// MarshalBinary encodes the session compactly for a SessionStore, with a
// leading version byte; UnmarshalBinary reads it back. The ID token's
// claims are kept exactly as they verified (Token.IDToken.Claims still
// reads custom ones). StoreSecret is not encoded (as in the JSON form). It
// fails when Token.IDToken was not produced by the library (it has no
// claims to encode).
func (s *Session) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, 512))
}

// AppendBinary appends MarshalBinary's encoding of s to b.
func (s *Session) AppendBinary(b []byte) ([]byte, error) {
	var flags uint64
	var idt []byte // IDToken.MarshalBinary: alg, 0, claims
	alg := ""
	t := s.Token
	if t != nil {
		flags |= flagToken
		if t.IDToken != nil {
			flags |= flagIDToken
			var err error
			if idt, err = t.IDToken.MarshalBinary(); err != nil {
				return nil, fmt.Errorf("nihttp: encoding session: %w", err)
			}
			i := strings.IndexByte(string(idt), 0)
			if i < 0 {
				return nil, errors.New("nihttp: encoding session: unexpected IDToken encoding")
			}
			if payload, ok := rawPayload(t.RawIDToken); ok && string(payload) == string(idt[i+1:]) {
				flags |= flagClaimsInRaw
				alg = string(idt[:i])
			}
		}
	}
	if !s.AuthTime.Equal(s.idTokenAuthTime()) {
		flags |= flagAuthTime
	}
	b = append(b, sessionBinaryVersion)
	b = binary.AppendUvarint(b, flags)
	b = appendString(b, s.ID)
	b = appendString(b, s.Subject)
	b = appendString(b, s.SID)
	b = appendTime(b, s.CreatedAt)
	b = appendTime(b, s.ExpiresAt)
	b = appendTime(b, s.LastSeen)
	b = appendTime(b, s.IdleExpiresAt)
	if flags&flagAuthTime != 0 {
		b = appendTime(b, s.AuthTime)
	}
	if t != nil {
		b = appendString(b, t.AccessToken)
		b = appendString(b, t.TokenType)
		b = appendString(b, t.RefreshToken)
		b = appendString(b, t.RawIDToken)
		b = appendTime(b, t.Expiry)
		b = appendString(b, t.Scope)
		switch {
		case flags&flagClaimsInRaw != 0:
			b = appendString(b, alg)
		case flags&flagIDToken != 0:
			b = appendString(b, string(idt))
		}
	}
	if len(b) > maxSessionBinary {
		return nil, fmt.Errorf("nihttp: encoding session: %d bytes, more than %d", len(b), maxSessionBinary)
	}
	return b, nil
}

// UnmarshalBinary decodes a session encoded by MarshalBinary. Any other
// input (another version, truncated, trailing bytes, more than 1 MiB) is
// an error, never a panic or a partial session. As with JSON, s keeps its
// StoreSecret. Like IDToken.UnmarshalJSON
// the result is trusted as it stands: decode only what the application
// itself stored.
func (s *Session) UnmarshalBinary(data []byte) error {
	if len(data) > maxSessionBinary {
		return fmt.Errorf("%w: %d bytes, more than %d", errBadSession, len(data), maxSessionBinary)
	}
	if len(data) == 0 || data[0] != sessionBinaryVersion {
		return fmt.Errorf("%w: unknown version", errBadSession)
	}
	// One string holds every string field, so decoding allocates once for
	// them all.
	d := decoder{s: string(data), off: 1}
	flags := d.uvarint()
	if flags&^flagsKnown != 0 || flags&flagToken == 0 && flags&^flagAuthTime != 0 ||
		flags&flagClaimsInRaw != 0 && flags&flagIDToken == 0 {
		return fmt.Errorf("%w: bad flags", errBadSession)
	}
	var out Session
	out.ID = d.str()
	out.Subject = d.str()
	out.SID = d.str()
	out.CreatedAt = d.time()
	out.ExpiresAt = d.time()
	out.LastSeen = d.time()
	out.IdleExpiresAt = d.time()
	if flags&flagAuthTime != 0 {
		out.AuthTime = d.time()
	}
	if flags&flagToken != 0 {
		t := new(nextidentity.Token)
		t.AccessToken = d.str()
		t.TokenType = d.str()
		t.RefreshToken = d.str()
		t.RawIDToken = d.str()
		t.Expiry = d.time()
		t.Scope = d.str()
		if flags&flagIDToken != 0 {
			var idt []byte
			if flags&flagClaimsInRaw != 0 {
				// IDToken.MarshalBinary's form: alg, 0, claims.
				alg := d.str()
				var ok bool
				idt, ok = appendRawPayload(append(make([]byte, 0, len(alg)+1+len(t.RawIDToken)), alg+"\x00"...), t.RawIDToken)
				if !ok {
					d.fail("raw ID token")
				}
			} else {
				idt = []byte(d.str())
			}
			if d.err == nil {
				var err error
				if t.IDToken, err = idTokens.decode(idt); err != nil {
					return fmt.Errorf("%w: %w", errBadSession, err)
				}
			}
		}
		out.Token = t
	}
	if d.err == nil && d.off != len(d.s) {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return d.err
	}
	out.StoreSecret = s.StoreSecret
	if flags&flagAuthTime == 0 {
		out.AuthTime = out.idTokenAuthTime()
	}
	*s = out
	return nil
}

// idTokenAuthTime is the ID token's auth_time, or zero without one.
func (s *Session) idTokenAuthTime() time.Time {
	if s.Token == nil || s.Token.IDToken == nil {
		return time.Time{}
	}
	return s.Token.IDToken.AuthTime
}

// rawPayload decodes a compact JWS's payload (the middle part).
func rawPayload(raw string) ([]byte, bool) {
	return appendRawPayload(nil, raw)
}

// appendRawPayload appends the decoded payload of the compact JWS raw to b.
func appendRawPayload(b []byte, raw string) ([]byte, bool) {
	i := strings.IndexByte(raw, '.')
	j := strings.LastIndexByte(raw, '.')
	if i < 0 || j <= i {
		return b, false
	}
	b, err := base64.RawURLEncoding.AppendDecode(b, []byte(raw[i+1:j]))
	return b, err == nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// appendTime encodes t in 2 to about 20 bytes: a uvarint header, 0 for the
// zero time, else (nanoseconds<<1 | has-offset) + 1, then the Unix seconds
// (varint) and, when the zone is not UTC, its offset in seconds (varint).
// The zone's name is not kept (as with JSON), only its offset.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	_, off := t.Zone()
	h := uint64(t.Nanosecond()) << 1
	if off != 0 {
		h |= 1
	}
	b = binary.AppendUvarint(b, h+1)
	b = binary.AppendVarint(b, t.Unix())
	if off != 0 {
		b = binary.AppendVarint(b, int64(off))
	}
	return b
}

// decoder reads the binary session; after the first error every read
// returns zero values and err keeps that first error.
type decoder struct {
	s   string
	off int
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s at byte %d", errBadSession, what, d.off)
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	var v uint64
	for i := 0; i < binary.MaxVarintLen64 && d.off+i < len(d.s); i++ {
		c := d.s[d.off+i]
		if i == binary.MaxVarintLen64-1 && c > 1 {
			break // overflows 64 bits
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			d.off += i + 1
			return v
		}
	}
	d.fail("uvarint")
	return 0
}

// varint reads a zig-zag signed varint, as binary.AppendVarint writes.
func (d *decoder) varint() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.s)-d.off) {
		d.fail("length")
		return ""
	}
	v := d.s[d.off : d.off+int(n)]
	d.off += int(n)
	return v
}

func (d *decoder) time() time.Time {
	h := d.uvarint()
	if d.err != nil || h == 0 {
		return time.Time{}
	}
	h--
	nsec := h >> 1
	if nsec >= 1e9 {
		d.fail("time")
		return time.Time{}
	}
	t := time.Unix(d.varint(), int64(nsec)).UTC()
	if h&1 != 0 {
		off := d.varint()
		if off == 0 || off <= -maxZoneOffsetSec || off >= maxZoneOffsetSec {
			d.fail("time zone")
			return time.Time{}
		}
		t = t.In(time.FixedZone("", int(off)))
	}
	if d.err != nil {
		return time.Time{}
	}
	return t
}
