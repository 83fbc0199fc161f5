package nextidentity_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// refreshWith redeems a refresh token at a token endpoint that answers body
// (no id_token), on a client whose clock stands at now.
func refreshWith(t *testing.T, now time.Time, body map[string]any) (*nextidentity.Token, error) {
	t.Helper()
	p := testprovider.New(t)
	p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
		testprovider.WriteJSON(w, http.StatusOK, body)
	})
	cfg := mkConfig(p)
	cfg.Now = func() time.Time { return now }
	c := mkClient(t, cfg)
	return c.Refresh(context.Background(), &nextidentity.Token{AccessToken: "old", RefreshToken: "r"})
}

// TestExpiresIn: only an absent expires_in means "unknown lifetime"; zero,
// negative or non-numeric values mean the token is expired already, so a
// TokenSource refreshes it instead of using it for ever.
func TestExpiresIn(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name    string
		value   any // json.RawMessage(nil) for absent
		unknown bool
		want    time.Duration // lifetime when not expired
	}{
		{name: "absent", value: nil, unknown: true},
		{name: "null", value: json.RawMessage("null"), unknown: true},
		{name: "3600", value: 3600, want: time.Hour},
		{name: "numeric string", value: "60", want: time.Minute},
		{name: "fraction", value: 90.5, want: 90*time.Second + 500*time.Millisecond},
		{name: "capped", value: 1e12, want: 10 * 365 * 24 * time.Hour},
		{name: "negative", value: -3600},
		{name: "zero", value: 0},
		{name: "zero string", value: "0"},
		{name: "half a second", value: 0.5, want: 500 * time.Millisecond},
		{name: "not a number", value: "soon"},
		{name: "empty string", value: ""},
		{name: "boolean", value: true},
		{name: "object", value: map[string]any{"s": 60}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"access_token": "new", "token_type": "Bearer"}
			if tc.value != nil {
				body["expires_in"] = tc.value
			}
			tok, err := refreshWith(t, now, body)
			require.NoError(t, err)
			if tc.unknown {
				require.True(t, tok.Expiry.IsZero(), "unknown lifetime: %v", tok.Expiry)
				return
			}
			require.False(t, tok.Expiry.IsZero(), "a sent expires_in never means 'never expires'")
			require.Equal(t, now.Add(tc.want), tok.Expiry)
			if tc.want < time.Minute {
				require.False(t, tok.Valid(), "expired now (or within the expiry margin)")
			}
		})
	}
}

// TestTokenTypeMustBeBearer: the client sends the access token as a Bearer
// token, so any other token_type (a sender-constrained DPoP or MAC token, or
// none) is refused, and the refusal does not quote the tokens.
func TestTokenTypeMustBeBearer(t *testing.T) {
	for _, tc := range []struct {
		typ any // nil: absent
		ok  bool
	}{
		{"Bearer", true}, {"bearer", true}, {"BEARER", true},
		{"DPoP", false}, {"mac", false}, {"", false}, {nil, false}, {"Bearer ", false},
	} {
		t.Run(fmt.Sprintf("%v", tc.typ), func(t *testing.T) {
			body := map[string]any{"access_token": "secret-access", "refresh_token": "secret-refresh", "expires_in": 60}
			if tc.typ != nil {
				body["token_type"] = tc.typ
			}
			tok, err := refreshWith(t, time.Now(), body)
			if tc.ok {
				require.NoError(t, err)
				require.Equal(t, "secret-access", tok.AccessToken)
				return
			}
			require.Nil(t, tok)
			require.ErrorIs(t, err, nextidentity.ErrMalformedResponse)
			require.NotContains(t, err.Error(), "secret-")
		})
	}
}
