package nextidentity_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// TestTokenValidUsesClientClock: a Token returned by a Client judges its
// validity on Config.Now, as the TokenSource does, so moving a fake clock
// expires it; a Token the app builds reads time.Now until a TokenSource
// gives it the client's clock.
func TestTokenValidUsesClientClock(t *testing.T) {
	clk := newFakeClock(time.Now())
	p := testprovider.New(t)
	p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
		testprovider.WriteJSON(w, http.StatusOK, map[string]any{"access_token": "new", "token_type": "Bearer", "expires_in": 3600})
	})
	cfg := mkConfig(p)
	cfg.Now = clk.Now
	c := mkClient(t, cfg)

	tok, err := c.Refresh(context.Background(), &nextidentity.Token{AccessToken: "old", RefreshToken: "r"})
	require.NoError(t, err)
	require.True(t, tok.Valid())
	clk.Advance(2 * time.Hour)
	require.False(t, tok.Valid(), "expired on the client's clock")

	// Built by the app: time.Now, until a TokenSource takes it.
	built := &nextidentity.Token{AccessToken: "a", RefreshToken: "r", Expiry: clk.Now().Add(-time.Minute)}
	require.True(t, built.Valid(), "time.Now is two hours before the fake clock")
	ts := c.TokenSource(context.Background(), built, nil)
	cur, err := ts.Current()
	require.NoError(t, err)
	require.Equal(t, "new", cur.AccessToken, "refreshed: expired on the client's clock")
	require.True(t, cur.Valid())
}

// A Token stays comparable: its clock is a pointer, not a func.
var _ = nextidentity.Token{} == nextidentity.Token{}
