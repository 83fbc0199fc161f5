package nextidentity

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestUpdatedAtForms: Profile.UpdatedAt reads the provider's string, RFC
// 3339 and a NumericDate.
func TestUpdatedAtForms(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{`"2021-01-07 20:44:35.176625 +0000"`, time.Date(2021, 1, 7, 20, 44, 35, 176625000, time.UTC)},
		{`"2021-01-07 20:44:35 +0000"`, time.Date(2021, 1, 7, 20, 44, 35, 0, time.UTC)},
		{`"2021-01-07T20:44:35Z"`, time.Date(2021, 1, 7, 20, 44, 35, 0, time.UTC)},
		{`1610052275`, time.Date(2021, 1, 7, 20, 44, 35, 0, time.UTC)},
		{`1610052275.5`, time.Date(2021, 1, 7, 20, 44, 35, 500000000, time.UTC)},
		{`null`, time.Time{}},
		{`""`, time.Time{}},
	} {
		var u updatedTime
		require.NoError(t, json.Unmarshal([]byte(tc.in), &u), tc.in)
		require.True(t, tc.want.Equal(u.Time), "%s: got %v", tc.in, u.Time)
	}
	for _, bad := range []string{`"yesterday"`, `-5`, `1e300`, `true`, `{}`} {
		var u updatedTime
		require.Error(t, json.Unmarshal([]byte(bad), &u), bad)
	}
}
