package nextidentity_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
)

// TestWithMaxAgeIsEnforced: an AuthRequest made WithMaxAge records it, and
// Exchange requires an auth_time no older than max_age plus the leeway.
func TestWithMaxAgeIsEnforced(t *testing.T) {
	now := fixedNow
	const leeway = nextidentity.DefaultLeeway
	for _, tc := range []struct {
		name     string
		maxAge   time.Duration // < 0: no WithMaxAge
		authTime any           // nil: no auth_time claim
		ok       bool
	}{
		{name: "recent enough", maxAge: 10 * time.Minute, authTime: now.Add(-5 * time.Minute).Unix(), ok: true},
		{name: "older than max_age, within the leeway", maxAge: 10 * time.Minute, authTime: now.Add(-10*time.Minute - leeway).Unix(), ok: true},
		{name: "older than max_age and the leeway", maxAge: 10 * time.Minute, authTime: now.Add(-10*time.Minute - leeway - time.Second).Unix()},
		{name: "no auth_time", maxAge: 10 * time.Minute},
		{name: "max_age=0 and a fresh login", maxAge: 0, authTime: now.Unix(), ok: true},
		{name: "max_age=0 and an old session", maxAge: 0, authTime: now.Add(-time.Hour).Unix()},
		{name: "no max_age, no auth_time", maxAge: -1, ok: true},
		{name: "no max_age, old auth_time", maxAge: -1, authTime: now.Add(-30 * 24 * time.Hour).Unix(), ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, c, _ := fixedClient(t)
			ts := newTokenServer(p)
			var opts []nextidentity.AuthOption
			if tc.maxAge >= 0 {
				opts = append(opts, nextidentity.WithMaxAge(tc.maxAge))
			}
			ar, err := c.AuthCodeURL(opts...)
			require.NoError(t, err)
			ts.claims = func(url.Values) map[string]any {
				cl := p.Claims(now, ar.Nonce)
				if tc.authTime != nil {
					cl["auth_time"] = tc.authTime
				}
				return cl
			}
			// What a store keeps is enough to enforce it.
			b, err := json.Marshal(ar)
			require.NoError(t, err)
			var restored nextidentity.AuthRequest
			require.NoError(t, json.Unmarshal(b, &restored))

			tok, err := c.Exchange(context.Background(), callbackFor(ar), &restored)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, nextidentity.ErrInvalidIDToken)
			require.ErrorIs(t, err, nextidentity.ErrAuthTooOld, "the finer sentinel says why")
			require.Nil(t, tok)
		})
	}
}

func TestWithMaxAgeRecordsWhatWasSent(t *testing.T) {
	c := offlineClient(t, nil)
	ar, err := c.AuthCodeURL(nextidentity.WithMaxAge(90*time.Second + 700*time.Millisecond))
	require.NoError(t, err)
	_, q := parseURL(t, ar.URL)
	require.Equal(t, "90", q.Get("max_age"))
	require.NotNil(t, ar.MaxAge)
	require.Equal(t, 90*time.Second, *ar.MaxAge, "whole seconds, as sent")

	ar, err = c.AuthCodeURL()
	require.NoError(t, err)
	require.Nil(t, ar.MaxAge)

	_, err = c.AuthCodeURL(nextidentity.WithMaxAge(-time.Second))
	require.ErrorIs(t, err, nextidentity.ErrInvalidConfig)
	_, err = c.AuthCodeURL(nextidentity.WithParam("max_age", "60"))
	require.ErrorIs(t, err, nextidentity.ErrInvalidConfig, "max_age is enforced, so only WithMaxAge sets it")
}
