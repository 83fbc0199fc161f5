package httpx

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// endless yields 'a' forever and counts what was read from it.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestReadAll(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		limit   int64
		wantErr error
	}{
		{"under", "abc", 4, nil},
		{"exact", "abcd", 4, nil},
		{"over", "abcde", 4, ErrTooLarge},
		{"empty", "", 4, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ReadAll(strings.NewReader(tc.body), tc.limit)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.body, string(b))
		})
	}
}

func TestReadAllStopsOnEndlessBody(t *testing.T) {
	e := &endless{}
	_, err := ReadAll(e, 1<<20)
	require.ErrorIs(t, err, ErrTooLarge)
	require.Less(t, e.n, int64(2<<20), "read far past the limit")
}

func TestReadAllPassesReadErrors(t *testing.T) {
	_, err := ReadAll(io.MultiReader(strings.NewReader("ab"), errReader{}), 10)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }
