package nextidentity

import (
	"encoding/json"
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
