package otelsdk_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/account"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

const (
	app          = "https://app.example"
	userEmail    = "ada.telemetry@example.com"
	userPassword = "correct-horse-battery-otel"
	userName     = "Ada Telemetry-Lovelace"
	clientSecret = "client-secret-never-exported"
)

// recorder is an SDK tracer and meter provider that keep everything in
// memory, and a debug log.
type recorder struct {
	spans  *tracetest.InMemoryExporter
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
	log    bytes.Buffer
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader()}
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(r.spans))
	r.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	t.Cleanup(func() {
		_ = r.tp.Shutdown(context.Background())
		_ = r.mp.Shutdown(context.Background())
	})
	return r
}

func (r *recorder) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(&r.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (r *recorder) metrics(t *testing.T) metricdata.ResourceMetrics {
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(context.Background(), &rm))
	return rm
}

// flow is a sign-in through nihttp's handlers, userinfo, a session refresh,
// and the same with the Client alone; it collects every secret it meets.
type flow struct {
	srv     *nextidentitytest.Server
	client  *nextidentity.Client
	h       *nihttp.Handlers
	secrets map[string]string // what it is -> the value
}

func (f *flow) secret(what, v string) {
	if v != "" {
		f.secrets[what+" "+v[:min(len(v), 6)]] = v
	}
}

func (f *flow) cookies(what string, cs []*http.Cookie) {
	for _, c := range cs {
		f.secret(what+" cookie "+c.Name, c.Value)
	}
}

func (f *flow) token(what string, tok *nextidentity.Token) {
	f.secret(what+" access token", tok.AccessToken)
	f.secret(what+" refresh token", tok.RefreshToken)
	f.secret(what+" id token", tok.RawIDToken)
	if tok.IDToken != nil {
		f.secret("subject", tok.IDToken.Subject)
	}
}

func newFlow(t *testing.T, r *recorder) *flow {
	srv := nextidentitytest.NewServer(nextidentitytest.Options{
		Clients: []nextidentitytest.Client{{ID: "telemetry-app", Secret: clientSecret, RedirectURIs: []string{app + "/callback"}, Scopes: []string{"orders:read"}}},
		Users:   []nextidentitytest.User{{Email: userEmail, Password: userPassword, Name: userName, EmailVerified: true}},
	})
	t.Cleanup(srv.Close)
	cfg := srv.Config()
	cfg.TracerProvider, cfg.MeterProvider, cfg.Logger = r.tp, r.mp, r.logger()
	client, err := nextidentity.New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	key := make([]byte, nihttp.KeySize)
	rand.Read(key)
	// nihttp takes the Client's providers.
	h, err := nihttp.New(nihttp.Config{Client: client, Keys: [][]byte{key}, Logger: r.logger(),
		AuthOptions: []nextidentity.AuthOption{nextidentity.WithOfflineAccess()}})
	require.NoError(t, err)
	f := &flow{srv: srv, client: client, h: h, secrets: map[string]string{}}
	f.secret("email", userEmail)
	f.secret("password", userPassword)
	f.secret("name", userName)
	f.secret("client secret", clientSecret)
	f.secret("key", url.QueryEscape(string(key)))
	return f
}

// viaHandlers signs in through Login and Callback, calls userinfo, and
// refreshes the session with Handlers.Refresh.
func (f *flow) viaHandlers(t *testing.T) {
	ctx := context.Background()
	w := httptest.NewRecorder()
	f.h.Login(w, httptest.NewRequest(http.MethodGet, app+"/login", nil))
	login := w.Result()
	require.Equal(t, http.StatusFound, login.StatusCode)
	f.cookies("login", login.Cookies())
	q, err := f.srv.Login(ctx, login.Header.Get("Location"), userEmail, userPassword)
	require.NoError(t, err)
	f.secret("code", q.Get("code"))
	f.secret("state", q.Get("state"))

	cb := httptest.NewRequest(http.MethodGet, app+"/callback?"+q.Encode(), nil)
	for _, c := range login.Cookies() {
		cb.AddCookie(c)
	}
	w = httptest.NewRecorder()
	f.h.Callback(w, cb)
	require.Equal(t, http.StatusFound, w.Code, w.Body.String())
	req := httptest.NewRequest(http.MethodGet, app+"/", nil)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge >= 0 {
			req.AddCookie(c)
		}
	}
	f.cookies("session", req.Cookies())

	s, err := f.h.Session(httptest.NewRecorder(), req)
	require.NoError(t, err)
	f.secret("session id", s.ID)
	f.token("session", s.Token)
	info, err := f.client.UserInfo(ctx, s.Token)
	require.NoError(t, err)
	require.Equal(t, userEmail, info.Email)

	w = httptest.NewRecorder()
	ns, err := f.h.Refresh(w, req)
	require.NoError(t, err)
	require.NotEqual(t, s.Token.AccessToken, ns.Token.AccessToken)
	f.token("refreshed session", ns.Token)
	f.cookies("refreshed session", w.Result().Cookies())
}

// viaClient signs in with the Client alone (so the PKCE verifier and nonce
// are known here), refreshes, gets a client credentials token, and has an
// ID token with the wrong nonce refused.
func (f *flow) viaClient(t *testing.T) {
	ctx := context.Background()
	ar, err := f.client.AuthCodeURL(nextidentity.WithOfflineAccess())
	require.NoError(t, err)
	f.secret("verifier", ar.CodeVerifier)
	f.secret("nonce", ar.Nonce)
	f.secret("state", ar.State)
	q, err := f.srv.Login(ctx, ar.URL, userEmail, userPassword)
	require.NoError(t, err)
	f.secret("code", q.Get("code"))
	tok, err := f.client.Exchange(ctx, q, ar)
	require.NoError(t, err)
	f.token("exchanged", tok)
	nt, err := f.client.Refresh(ctx, tok)
	require.NoError(t, err)
	f.token("refreshed", nt)
	cc, err := f.client.ClientCredentials(ctx, "orders:read")
	require.NoError(t, err)
	f.token("client credentials", cc)

	_, err = f.client.VerifyIDToken(ctx, tok.RawIDToken, "not-the-nonce")
	require.ErrorIs(t, err, nextidentity.ErrNonceMismatch)
}

// TestTelemetryCarriesNoSecret runs a sign-in, userinfo and refresh with
// SDK providers and checks that no span name, attribute, event, status or
// metric attribute, and no debug log line, contains a token, code,
// verifier, secret, cookie value, email or claim value.
// viaAccount signs in through the API integration (package account): the
// password goes to /login, the code to the account API's /token.
func (f *flow) viaAccount(t *testing.T) {
	ac := account.New(f.client)
	res, err := ac.Login(context.Background(), account.Credentials{AuthType: account.Email, UserID: userEmail, Password: userPassword})
	require.NoError(t, err)
	f.secret("account code", res.Code)
	tok, err := ac.Exchange(context.Background(), res)
	require.NoError(t, err)
	f.token("account", tok)
}

func TestTelemetryCarriesNoSecret(t *testing.T) {
	r := newRecorder(t)
	f := newFlow(t, r)
	f.viaHandlers(t)
	f.viaClient(t)
	f.viaAccount(t)

	var exported []string
	for _, s := range r.spans.GetSpans() {
		exported = append(exported, "span name "+s.Name, "status "+s.Status.Description)
		exported = append(exported, attrStrings("span "+s.Name, s.Attributes)...)
		for _, e := range s.Events {
			exported = append(exported, "event "+e.Name)
			exported = append(exported, attrStrings("event "+e.Name, e.Attributes)...)
		}
		for _, l := range s.Links {
			exported = append(exported, attrStrings("link", l.Attributes)...)
		}
	}
	rm := r.metrics(t)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			exported = append(exported, "metric "+m.Name, "description "+m.Description, "unit "+m.Unit)
			for _, set := range pointSets(m.Data) {
				exported = append(exported, attrStrings("metric "+m.Name, set.ToSlice())...)
			}
		}
	}
	exported = append(exported, strings.Split(r.log.String(), "\n")...)
	require.Greater(t, len(f.secrets), 20, "the flow met the secrets it checks for")
	for _, got := range exported {
		for what, v := range f.secrets {
			require.NotContains(t, got, v, "%s leaked into telemetry", what)
		}
	}
}

func attrStrings(where string, kvs []attribute.KeyValue) []string {
	out := make([]string, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, where+" "+string(kv.Key)+"="+kv.Value.Emit())
	}
	return out
}

// pointSets returns the attribute sets of a metric's data points.
func pointSets(data metricdata.Aggregation) []attribute.Set {
	var out []attribute.Set
	switch d := data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Attributes)
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Attributes)
		}
	}
	return out
}
