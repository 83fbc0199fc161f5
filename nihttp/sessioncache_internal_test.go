package nihttp

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSessionCacheIsBounded(t *testing.T) {
	var c sessionCache
	now := time.Now()
	for i := range 3 * sessionCacheSize {
		c.put("value-"+strconv.Itoa(i), &Session{ID: strconv.Itoa(i)}, now.Add(time.Hour))
		require.LessOrEqual(t, len(c.m), sessionCacheSize)
	}
	last := "value-" + strconv.Itoa(3*sessionCacheSize-1)
	got := c.get(last, now)
	require.NotNil(t, got, "the newest entry is there")
	require.Equal(t, strconv.Itoa(3*sessionCacheSize-1), got.ID)
	require.Nil(t, c.get(last, now.Add(time.Hour)), "expired with its seal")
	require.Nil(t, c.get(last, now), "and dropped")
}

func TestIDTokenCache(t *testing.T) {
	var c idTokenCache
	b := []byte("RS256\x00" + `{"iss":"https://id.example.com/","sub":"user-1","aud":["a","b"],"name":"Jane"}`)
	first, err := c.decode(b)
	require.NoError(t, err)
	first.Name = "changed"
	first.Audience[0] = "changed"
	second, err := c.decode(b)
	require.NoError(t, err)
	require.Equal(t, "Jane", second.Name, "the cache keeps its own copy")
	require.Equal(t, []string{"a", "b"}, second.Audience)
	var cl struct{ Sub string }
	require.NoError(t, second.Claims(&cl))
	require.Equal(t, "user-1", cl.Sub)

	_, err = c.decode([]byte("RS256\x00{not json"))
	require.Error(t, err)
	_, err = c.decode([]byte("RS256\x00{not json"))
	require.Error(t, err, "a failed decode is not cached")

	for i := range 2 * idTokenCacheSize {
		_, err := c.decode([]byte("RS256\x00" + `{"sub":"user-` + strconv.Itoa(i) + `"}`))
		require.NoError(t, err)
		require.LessOrEqual(t, len(c.m), idTokenCacheSize)
	}
}
