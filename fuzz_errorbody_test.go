package nextidentity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// fuzzTransport answers every request with the response set in it, without
// any network. Fuzz functions run sequentially within a worker.
type fuzzTransport struct {
	status      int
	contentType string
	body        []byte
	hits        int
}

func (ft *fuzzTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ft.hits++
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	h := http.Header{}
	h.Set("Content-Type", ft.contentType)
	return &http.Response{
		Status:        strconv.Itoa(ft.status) + " " + http.StatusText(ft.status),
		StatusCode:    ft.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(ft.body)),
		ContentLength: int64(len(ft.body)),
		Request:       r,
	}, nil
}

// fuzzBodyLimit is the client's MaxResponseBytes in FuzzErrorBody, small so
// that ErrResponseTooLarge is reachable.
const fuzzBodyLimit = 4096

// FuzzErrorBody feeds provider responses to the error mapping, directly and
// through the token and userinfo requests (over an in-memory transport).
func FuzzErrorBody(f *testing.F) {
	ft := &fuzzTransport{}
	env := newFuzzEnv(f, func(cfg *Config) {
		cfg.HTTPClient = &http.Client{Transport: ft}
		cfg.MaxResponseBytes = fuzzBodyLimit
	})
	names, files := seedFiles(f, "testdata/bodies/*")
	for i, name := range names {
		status, err := strconv.Atoi(strings.SplitN(name, "-", 2)[0])
		require.NoError(f, err, "seed body %s: name must start with the status", name)
		ct := map[string]string{
			".json": "application/json",
			".html": "text/html; charset=utf-8",
			".txt":  "text/plain",
		}[filepath.Ext(name)]
		f.Add(status, ct, files[i])
	}
	f.Add(200, "application/json", bytes.Repeat([]byte("x"), fuzzBodyLimit+1))
	f.Add(400, "application/json", []byte(`{"error":"invalid_request","error_description":"`+strings.Repeat("a", 600)+`"}`))

	ctx := context.Background()
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		// The mapper itself, with any status.
		o := readBody(body)
		isErrObj := o.isErr
		e := providerError("token", status, body)
		if isErrObj {
			require.NotNil(t, e, "HTTP %d body %q is an error object", status, body)
		}
		if status < 200 || status >= 300 {
			require.NotNil(t, e, "HTTP %d is not a success", status)
		}
		if e != nil {
			checkProviderError(t, e, "token", status, body)
		} else {
			// A success body that is no error object but cannot be decoded.
			me := malformed("token", status, body, errors.New("cause"))
			checkProviderError(t, me, "token", status, body)
			require.ErrorIs(t, me, ErrMalformedResponse)
		}

		// The same response over HTTP.
		ft.status = 100 + int(uint(status)%500)
		if ft.status < 200 {
			ft.status += 100 // 1xx responses are informational, never final
		}
		ft.contentType, ft.body = contentType, body
		tr, err := env.c.tokenRequest(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {fuzzCode}})
		checkHTTPResult(t, err, ft.status, body, isErrObj)
		if err == nil {
			require.NotEmpty(t, tr.AccessToken)
		}
		ui, err := env.c.UserInfo(ctx, &Token{AccessToken: "rb5bzkygqs5ahevp"})
		checkHTTPResult(t, err, ft.status, body, isErrObj)
		if err == nil {
			require.NotEmpty(t, ui.Subject)
		}
	})
}

// bodyOracle is what a response body reports, read independently of the
// library: a JSON object whose "stat" is "error" or whose "error" has a
// non-empty value reports an error, whatever its other members hold. Names
// match exactly: JSON member names are case-sensitive, so "Error" is not
// "error".
type bodyOracle struct {
	isErr bool
	code  string // the "error" member
	stat  string // the "stat" member
}

func readBody(body []byte) bodyOracle {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return bodyOracle{}
	}
	var o bodyOracle
	// Any non-null value counts, bounded and cleaned like every excerpt: a
	// member of an unexpected type must not hide the error.
	text := func(raw json.RawMessage) string {
		if s, ok := jsonString(raw); ok {
			return excerpt([]byte(s))
		}
		if len(raw) == 0 || string(raw) == "null" {
			return ""
		}
		return excerpt(raw)
	}
	o.stat, o.code = text(m["stat"]), text(m["error"])
	o.isErr = o.stat == "error" || o.code != ""
	return o
}

// maxFixedErrorLen bounds Error() apart from the provider's own error code
// and description: endpoint, status, cause and body excerpt.
const maxFixedErrorLen = 1024

func checkProviderError(t *testing.T, e *Error, endpoint string, status int, body []byte) {
	t.Helper()
	require.NotNil(t, e)
	if o := readBody(body); o.isErr {
		// The provider's error survives whatever else the body holds.
		require.Equal(t, o.code, e.Code, "body %q", body)
		require.Equal(t, o.stat, e.Stat, "body %q", body)
	}
	require.Equal(t, endpoint, e.Endpoint)
	require.Equal(t, status, e.StatusCode)
	require.True(t, e.Code != "" || e.Stat == "error" || errors.Is(e, ErrMalformedResponse),
		"an *Error must carry the provider's error or wrap ErrMalformedResponse: %#v", e)
	require.LessOrEqual(t, len(e.Body), excerptLen)
	require.True(t, utf8.ValidString(e.Body), "excerpt %q is not UTF-8", e.Body)
	require.False(t, strings.ContainsFunc(e.Body, func(r rune) bool { return r < 0x20 || r == 0x7f }),
		"excerpt %q holds control characters", e.Body)
	msg := e.Error()
	require.LessOrEqual(t, len(msg)-len(e.Code)-len(e.Description), maxFixedErrorLen,
		"Error() is %d bytes for a %d-byte body", len(msg), len(body))
	if e.Code == "" && e.Description == "" {
		require.LessOrEqual(t, len(msg), maxFixedErrorLen)
	}
	require.Equal(t, e.Code == "invalid_request", errors.Is(e, ErrInvalidRequest))
	require.Equal(t, status == http.StatusUnauthorized || e.Code == "http_exception" || e.Code == "invalid_token",
		errors.Is(e, ErrUnauthorized))
}

// checkHTTPResult checks what a token or userinfo request returned for a
// response with this status and body.
func checkHTTPResult(t *testing.T, err error, status int, body []byte, isErrObj bool) {
	t.Helper()
	if len(body) > fuzzBodyLimit {
		require.ErrorIs(t, err, ErrResponseTooLarge)
		var pe *Error
		require.False(t, errors.As(err, &pe), "a body over the limit is not parsed")
		require.Less(t, len(err.Error()), 256)
		return
	}
	if status < 200 || status >= 300 || isErrObj {
		require.Error(t, err, "HTTP %d body %q must fail", status, body)
	}
	if err == nil {
		return
	}
	var pe *Error
	require.ErrorAs(t, err, &pe, "HTTP %d body %q: %v", status, body, err)
	require.Equal(t, status, pe.StatusCode)
	checkProviderError(t, pe, pe.Endpoint, status, body)
}
