package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// upstream is one response of the fake on its way through a faultProxy.
type upstream struct {
	status int
	header http.Header
	body   []byte
}

// faultProxy serves srv at another address, rewriting srv's URL to its own
// in every body and Location so that the provider appears to live at the
// proxy, and lets edit change each response: a bad JWKS key, a skewed Date,
// a missing endpoint.
func faultProxy(t *testing.T, srv *nextidentitytest.Server, edit func(path string, up *upstream)) *httptest.Server {
	t.Helper()
	return faultProxyWrapped(t, srv, edit, nil)
}

// faultProxyWrapped is faultProxy with its handler wrapped by wrap, for
// faults that depend on the request.
func faultProxyWrapped(t *testing.T, srv *nextidentitytest.Server, edit func(path string, up *upstream), wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	var self string
	hc := srv.HTTPClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out, err := http.NewRequestWithContext(r.Context(), r.Method, srv.URL+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.Header = r.Header.Clone()
		resp, err := hc.Do(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		up := &upstream{status: resp.StatusCode, header: resp.Header.Clone(), body: bytes.ReplaceAll(rb, []byte(srv.URL), []byte(self))}
		if loc := up.header.Get("Location"); loc != "" {
			up.header.Set("Location", string(bytes.ReplaceAll([]byte(loc), []byte(srv.URL), []byte(self))))
		}
		up.header.Del("Content-Length")
		if edit != nil {
			edit(r.URL.Path, up)
		}
		for k, v := range up.header {
			w.Header()[k] = v
		}
		if _, ok := up.header["Date"]; !ok {
			w.Header()["Date"] = nil // suppress the server's own
		}
		w.WriteHeader(up.status)
		w.Write(up.body) //nolint:errcheck // the client may have gone
	})
	if wrap != nil {
		h = wrap(h)
	}
	proxy := httptest.NewUnstartedServer(h)
	self = "http://" + proxy.Listener.Addr().String() // fixed before any request
	proxy.Start()
	t.Cleanup(proxy.Close)
	return proxy
}

func TestFaultProxyIsTransparent(t *testing.T) {
	srv := newFake(t, nextidentitytest.Options{})
	proxy := faultProxy(t, srv, nil)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(proxy.URL + "/.well-known/openid-configuration")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(b), `"issuer":"`+proxy.URL+`"`)
	require.NotEmpty(t, resp.Header.Get("Date"))
}
