package keys

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSetKeys(t *testing.T) {
	set, skipped, err := Parse(jwks(t,
		rsaKey(t, "r1"),
		octJWK("sym", "HS256", "sig"),
		jwk(t, testKeys().p256, "e1", "ES256", ""),
	))
	require.NoError(t, err)
	require.Len(t, skipped, 1)
	got := set.Keys()
	require.Equal(t, []string{"r1", "e1"}, kids(got))
	require.Equal(t, "RS256", got[0].Alg)
	got[0] = nil
	require.Equal(t, []string{"r1", "e1"}, kids(set.Keys()), "Keys returns a copy")
}
