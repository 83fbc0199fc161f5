package nextidentity_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

func TestTokenJSONRoundTripKeepsVerifiedIDToken(t *testing.T) {
	srv := nextidentitytest.NewServer(nextidentitytest.Options{})
	t.Cleanup(srv.Close)
	ctx := context.Background()
	client, err := nextidentity.New(ctx, srv.Config())
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	ar, err := client.AuthCodeURL()
	require.NoError(t, err)
	cb, err := srv.Login(ctx, ar.URL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.NoError(t, err)
	tok, err := client.Exchange(ctx, cb, ar)
	require.NoError(t, err)

	b, err := json.Marshal(tok)
	require.NoError(t, err)
	var got nextidentity.Token
	require.NoError(t, json.Unmarshal(b, &got))
	require.NotNil(t, got.IDToken)
	require.Equal(t, tok.IDToken.Subject, got.IDToken.Subject)
	require.Equal(t, tok.IDToken.Profile, got.IDToken.Profile)
	require.True(t, tok.IDToken.Expiry.Equal(got.IDToken.Expiry))
	require.Equal(t, tok.AccessToken, got.AccessToken)
	require.True(t, tok.Expiry.Equal(got.Expiry))

	var want, restored map[string]any
	require.NoError(t, tok.IDToken.Claims(&want))
	require.NoError(t, got.IDToken.Claims(&restored))
	require.Equal(t, want, restored)

	// A token without its raw ID token (as the cookie store keeps it) still
	// carries the claims, and at_hash checks still work on the restored one.
	got.RawIDToken = ""
	b, err = json.Marshal(&got)
	require.NoError(t, err)
	var slim nextidentity.Token
	require.NoError(t, json.Unmarshal(b, &slim))
	require.Equal(t, tok.IDToken.Email, slim.IDToken.Email)
	if slim.IDToken.AccessTokenHash != "" {
		require.NoError(t, slim.IDToken.VerifyAccessToken(slim.AccessToken))
	}
}

func TestIDTokenJSONErrors(t *testing.T) {
	var idt nextidentity.IDToken
	_, err := json.Marshal(&idt)
	require.ErrorContains(t, err, "nextidentity: IDToken has no claims")
	for _, in := range []string{`[]`, `{"alg":"RS256","claims":"x"}`, `{"alg":"RS256","claims":{"exp":"soon"}}`} {
		require.Error(t, json.Unmarshal([]byte(in), &idt), in)
	}
}

func TestIDTokenBinaryRoundTrip(t *testing.T) {
	srv := nextidentitytest.NewServer(nextidentitytest.Options{})
	t.Cleanup(srv.Close)
	ctx := context.Background()
	client, err := nextidentity.New(ctx, srv.Config())
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	ar, err := client.AuthCodeURL()
	require.NoError(t, err)
	cb, err := srv.Login(ctx, ar.URL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.NoError(t, err)
	tok, err := client.Exchange(ctx, cb, ar)
	require.NoError(t, err)

	b, err := tok.IDToken.MarshalBinary()
	require.NoError(t, err)
	var got nextidentity.IDToken
	require.NoError(t, got.UnmarshalBinary(b))
	require.Equal(t, tok.IDToken.Subject, got.Subject)
	require.Equal(t, tok.IDToken.Profile, got.Profile)
	var want, restored map[string]any
	require.NoError(t, tok.IDToken.Claims(&want))
	require.NoError(t, got.Claims(&restored))
	require.Equal(t, want, restored)
	if got.AccessTokenHash != "" {
		require.NoError(t, got.VerifyAccessToken(tok.AccessToken), "the alg survives")
	}

	for _, bad := range [][]byte{nil, []byte("RS256"), []byte("RS256\x00not json"), []byte("RS256\x00{\"exp\":\"soon\"}")} {
		require.Error(t, new(nextidentity.IDToken).UnmarshalBinary(bad), "%q", bad)
	}
	_, err = new(nextidentity.IDToken).MarshalBinary()
	require.Error(t, err)
}
