package nextidentity

// Native fuzz targets. Seeds come from testdata/ (recorded provider bodies and
// the documented id_token, see the docs) plus tokens signed at start-up with
// the test provider's keys, which are random per process and so cannot be
// stored. Each target checks its results against an independent oracle
// written here, not against the code under test.
//
//	go test -run='^$' -fuzz='^FuzzVerifyIDToken$' -fuzztime=10s .

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/internal/testprovider"
)

const providerLayout = "2006-01-02 15:04:05.000000 -0700"

// Unix seconds of 0000-01-01T00:00:00Z, the earliest four-digit year.
const minYear0Unix = -62167219200

// FuzzUpdatedAt parses arbitrary "updated_at" values, and round-trips times
// built from (sec, nsec, offsetMinutes) through the provider's layout.
func FuzzUpdatedAt(f *testing.F) {
	for i, line := range seedLines(f, "testdata/updated_at.txt") {
		f.Add([]byte(line), int64(1610052275+i*86400*97), uint32(176625000+i), int16(i*37-300))
	}
	f.Add([]byte(`"2021-01-07 20:44:35.176625 +0000"`), int64(minYear0Unix), uint32(999999999), int16(-1439))
	f.Add([]byte(`1610052275`), int64(maxUnix), uint32(0), int16(1439))
	f.Fuzz(func(t *testing.T, raw []byte, sec int64, nsec uint32, offMin int16) {
		got, err := parseUpdatedAt(raw)
		if err != nil {
			require.Zero(t, got)
			require.LessOrEqual(t, len(err.Error()), 1024)
		} else if !got.IsZero() && got.Year() >= 0 && got.Year() <= 9999 {
			// Whatever parses survives the client's own JSON form.
			b, err := json.Marshal(got.Format(time.RFC3339Nano))
			require.NoError(t, err)
			again, err := parseUpdatedAt(b)
			require.NoError(t, err, "re-parsing %s", b)
			require.True(t, got.Equal(again), "%s: %v then %v", b, got, again)
		}
		if json.Valid(raw) {
			var u updatedTime
			jerr := json.Unmarshal(raw, &u)
			require.Equal(t, err == nil, jerr == nil, "parseUpdatedAt: %v, json.Unmarshal: %v", err, jerr)
			if err == nil {
				require.True(t, got.Equal(u.Time))
			}
		}

		// Round trip of the provider's own format.
		span := uint64(maxUnix - minYear0Unix + 1)
		s := minYear0Unix + int64(uint64(sec)%span)
		ns := int64(nsec % 1e9)
		zone := time.FixedZone("NIT", int(offMin)%1440*60)
		want := time.Unix(s, ns/1000*1000).In(zone)
		if y := want.Year(); y < 0 || y > 9999 {
			return // not four digits in the zone
		}
		for _, in := range []string{
			strconv.Quote(time.Unix(s, ns).In(zone).Format(providerLayout)),
			strconv.Quote(want.Format(time.RFC3339Nano)),
			strconv.Quote(want.Format("2006-01-02 15:04:05.999999999 -0700 MST")),
		} {
			back, err := parseUpdatedAt([]byte(in))
			require.NoError(t, err, in)
			require.True(t, want.Equal(back), "%s: want %v, got %v", in, want, back)
			_, offset := back.Zone()
			_, wantOffset := want.Zone()
			require.Equal(t, wantOffset, offset, "%s keeps its offset", in)
		}
		// NumericDate form.
		back, err := parseUpdatedAt([]byte(strconv.FormatInt(s, 10)))
		if s < 0 {
			require.Error(t, err)
		} else {
			require.NoError(t, err)
			require.True(t, time.Unix(s, 0).Equal(back))
		}
		if s >= 0 {
			frac := strconv.FormatInt(s, 10) + "." + strconv.FormatInt(ns, 10)
			back, err := parseUpdatedAt([]byte(frac))
			require.NoError(t, err, frac)
			d := back.Sub(time.Unix(s, 0))
			require.True(t, d >= 0 && d <= time.Second, "%s parsed as %v", frac, back)
		}
	})
}

// FuzzCallback gives arbitrary callback queries to Exchange. Whatever the
// query, the callback checks run before any request: the token endpoint is
// called only for a callback with no error, the right state, a matching or
// absent iss, and one code.
func FuzzCallback(f *testing.F) {
	env := newFuzzEnv(f, nil)
	idToken := testprovider.SignHS("HS256", fuzzSecret, env.claims())
	var lastForm atomic.Pointer[url.Values]
	env.p.Handle(testprovider.PathToken, func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err == nil {
			form := r.PostForm
			lastForm.Store(&form)
		}
		testprovider.TokenResponse(idToken)(w, r)
	})
	for _, line := range seedLines(f, "testdata/callbacks.txt") {
		f.Add(line, uint8(0))
	}
	f.Add("state="+fuzzState+"&code="+fuzzCode, uint8(2))
	f.Add("state="+fuzzState+"&code="+fuzzCode, uint8(3))

	ctx := context.Background()
	f.Fuzz(func(t *testing.T, query string, reqKind uint8) {
		cb, _ := url.ParseQuery(query) // keeps what parsed before a bad escape
		var req *AuthRequest
		switch reqKind % 4 {
		case 0, 1:
			req = &AuthRequest{State: fuzzState, Nonce: fuzzNonce, CodeVerifier: fuzzVerifier}
		case 2:
			req = nil
		case 3:
			req = &AuthRequest{Nonce: fuzzNonce, CodeVerifier: fuzzVerifier}
		}
		lastForm.Store(nil)
		before := env.p.Count(testprovider.PathToken)
		tok, err := env.c.Exchange(ctx, cb, req)
		hits := env.p.Count(testprovider.PathToken) - before

		// The oracle, in the order Exchange documents.
		iss, issSent := cb["iss"]
		code := cb["code"]
		var want error
		switch {
		case cb.Has("error"):
			var pe *Error
			require.ErrorAs(t, err, &pe, "callback %q", query)
			require.Nil(t, tok)
			require.Equal(t, "authorize", pe.Endpoint)
			require.Equal(t, excerpt([]byte(firstNonEmpty(cb["error"]...))), pe.Code)
			require.Equal(t, excerpt([]byte(cb.Get("error_description"))), pe.Description)
			require.LessOrEqual(t, len(pe.Error()), 4*excerptLen, "error message is bounded")
			require.Zero(t, hits, "token endpoint called for an error callback %q", query)
			return
		case req == nil || req.State == "" || req.Nonce == "" || req.CodeVerifier == "":
			want = ErrIncompleteAuthRequest
		case len(cb["state"]) != 1 || cb["state"][0] != req.State:
			want = ErrStateMismatch
		case issSent && (len(iss) != 1 || iss[0] != fuzzIssuer):
			want = ErrIssuerMismatch
		case len(code) != 1 || code[0] == "":
			want = ErrMissingCode
		}
		if want != nil {
			require.ErrorIs(t, err, want, "callback %q", query)
			require.Nil(t, tok)
			require.Zero(t, hits, "token endpoint called for callback %q (want %v)", query, want)
			return
		}
		require.NoError(t, err, "callback %q", query)
		require.Equal(t, int64(1), hits)
		form := lastForm.Load()
		require.NotNil(t, form)
		require.Equal(t, code[0], form.Get("code"))
		require.Equal(t, fuzzVerifier, form.Get("code_verifier"))
		require.Equal(t, "authorization_code", form.Get("grant_type"))
		require.Equal(t, fuzzNonce, tok.IDToken.Nonce)
		require.Equal(t, "rb5bzkygqs5ahevp", tok.AccessToken)
	})
}
