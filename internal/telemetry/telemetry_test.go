package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	errUmbrella = errors.New("umbrella")
	errFine     = fmt.Errorf("%w: fine", errUmbrella)
	errAnswer   = errors.New("answer")
)

func TestReason(t *testing.T) {
	tel := New(nil, nil, []Reason{
		{Err: errFine, Word: "fine"},
		{Err: errUmbrella, Word: "umbrella"},
		{Err: errAnswer, Word: "answer", Benign: true},
	})
	for _, c := range []struct {
		err    error
		want   string
		benign bool
	}{
		{fmt.Errorf("wrapped: %w", errFine), "fine", false},
		{errUmbrella, "umbrella", false},
		{errAnswer, "answer", true},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "timeout", false},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, "network", false},
		{errors.New("secret text 12345"), "_OTHER", false},
	} {
		r := tel.reason(c.err)
		require.Equal(t, c.want, r.Word, "%v", c.err)
		require.Equal(t, c.benign, r.Benign, "%v", c.err)
	}
}

// A nil Telemetry (a key store without one) records nothing and fails
// nothing.
func TestNilTelemetry(t *testing.T) {
	var tel *Telemetry
	ctx, op := tel.Start(context.Background(), TokenRequest)
	require.False(t, tel.Active(ctx, StoreLoad))
	err := errors.New("x")
	op.End(&err)
	tel.VerifyFailed(ctx, IDToken, &err)
}

// BenchmarkNoopStoreCheck is what a store call pays for telemetry with the
// default (no-op) providers: the Active check, and a successful
// verification's VerifyFailed.
func BenchmarkNoopStoreCheck(b *testing.B) {
	tel := New(nil, nil, nil)
	ctx := context.Background()
	var err error
	b.ReportAllocs()
	for b.Loop() {
		if tel.Active(ctx, StoreLoad) {
			b.Fatal("active with no-op providers")
		}
		tel.VerifyFailed(ctx, IDToken, &err)
	}
}
