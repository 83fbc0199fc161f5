package nextidentity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// storedIDToken is the JSON form of a verified IDToken: the algorithm it was
// signed with and its claims exactly as they verified. The signature is not
// kept, which is why a restored IDToken is trusted rather than verified.
type storedIDToken struct {
	Alg    string          `json:"alg"`
	Claims json.RawMessage `json:"claims"`
}

// MarshalJSON encodes the token's verified claims so that a session store
// can keep them with the rest of a Token. UnmarshalJSON restores every field
// and Claims from them.
func (t *IDToken) MarshalJSON() ([]byte, error) {
	if t.claims == nil {
		return nil, fmt.Errorf("nextidentity: IDToken has no claims to encode (not produced by VerifyIDToken)")
	}
	return json.Marshal(storedIDToken{Alg: t.alg, Claims: t.claims})
}

// UnmarshalJSON restores an IDToken encoded by MarshalJSON. The result is
// trusted as it stands: it is not verified again, so restore only what the
// application itself stored (a sealed cookie, a server-side session store),
// never a value a client sent.
func (t *IDToken) UnmarshalJSON(b []byte) error {
	var st storedIDToken
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("nextidentity: stored IDToken: %w", err)
	}
	var cl idClaims
	if err := json.Unmarshal(st.Claims, &cl); err != nil {
		return fmt.Errorf("nextidentity: stored IDToken claims: %w", err)
	}
	*t = *newIDToken(&cl, st.Alg, st.Claims)
	return nil
}

// MarshalBinary is MarshalJSON's compact twin, for stores that keep bytes:
// the alg, a zero byte, then the claims exactly as they verified. Decoding it
// (UnmarshalBinary) reads the claims once, where JSON nested in JSON is
// scanned several times, which matters on every request of a cookie
// session.
func (t *IDToken) MarshalBinary() ([]byte, error) {
	if t.claims == nil {
		return nil, errors.New("nextidentity: IDToken has no claims to encode (not produced by VerifyIDToken)")
	}
	out := make([]byte, 0, len(t.alg)+1+len(t.claims))
	out = append(append(append(out, t.alg...), 0), t.claims...)
	return out, nil
}

// UnmarshalBinary restores an IDToken encoded by MarshalBinary. Like
// UnmarshalJSON, the result is trusted as it stands, not verified again.
func (t *IDToken) UnmarshalBinary(b []byte) error {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return errors.New("nextidentity: stored IDToken: no alg separator")
	}
	claims := bytes.Clone(b[i+1:])
	var cl idClaims
	if err := json.Unmarshal(claims, &cl); err != nil {
		return fmt.Errorf("nextidentity: stored IDToken claims: %w", err)
	}
	*t = *newIDToken(&cl, string(b[:i]), claims)
	return nil
}

// newIDToken builds the IDToken for claims cl decoded from payload.
func newIDToken(cl *idClaims, alg string, payload []byte) *IDToken {
	return &IDToken{
		Issuer:          cl.Iss,
		Subject:         cl.Sub,
		Audience:        cl.Aud,
		AuthorizedParty: cl.Azp,
		IssuedAt:        cl.Iat.t,
		Expiry:          cl.Exp.t,
		AuthTime:        cl.AuthTime.t,
		Nonce:           cl.Nonce,
		AccessTokenHash: cl.AtHash,
		Profile:         cl.profile(),
		alg:             alg,
		claims:          payload,
	}
}
