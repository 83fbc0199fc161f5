package nextidentity_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

// TestErrorsNeverCarryTokens: a token response the client cannot use (an
// expires_in that is not a number, a body cut short, ...) becomes an error
// whose text and Body excerpt hold no token, since errors reach logs.
func TestErrorsNeverCarryTokens(t *testing.T) {
	const access, refresh, id = "AT-secret-0123456789", "RT-secret-0123456789", "eyJ.secret-id-token.sig"
	for name, body := range map[string]string{
		"bad expires_in":        `{"access_token":"` + access + `","refresh_token":"` + refresh + `","id_token":"` + id + `","expires_in":"soon"}`,
		"spaces, cut short":     `{"access_token" : "` + access + `", "token_type":"Bea`,
		"cut short":             `{"refresh_token":"` + refresh + `","access_token":"` + access[:10],
		"escaped quote":         `{"access_token":"a\"` + access + `","expires_in":{}}`,
		"bad token_type":        `{"access_token":"` + access + `","token_type":"mac","expires_in":60}`,
		"no access_token, list": `{"id_token":"` + id + `","refresh_token":"` + refresh + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			e := brokenNew(t, nil)
			e.p.Handle(testprovider.PathToken, brokenRespond(200, "application/json", body))
			tok, err := e.refresh(context.Background())
			require.Nil(t, tok)
			require.Error(t, err)
			for _, secret := range []string{access, access[:10], refresh, id} {
				require.NotContains(t, err.Error(), secret)
			}
		})
	}
}
