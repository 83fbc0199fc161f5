package nextidentitytest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// receiver is an application's back-channel logout endpoint that records
// the logout tokens it receives and answers with status.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	tokens []string
	status int
}

func newReceiver(t *testing.T, status int) *receiver {
	t.Helper()
	rc := &receiver{status: status}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.tokens = append(rc.tokens, r.PostFormValue("logout_token"))
		rc.mu.Unlock()
		w.WriteHeader(rc.status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) received() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.tokens...)
}

// bclClient is a confidential client registered with a back-channel logout
// URI (none when uri is empty).
func bclClient(id, uri string) nextidentitytest.Client {
	return nextidentitytest.Client{
		ID: id, Secret: id + "-secret",
		RedirectURIs:         []string{"http://127.0.0.1/" + id + "/callback"},
		BackChannelLogoutURI: uri,
	}
}

// bclSignIn runs the code flow for clientID with the server's default browser
// and returns the client and its verified token.
func bclSignIn(t *testing.T, srv *nextidentitytest.Server, clientID string) (*nextidentity.Client, *nextidentity.Token) {
	t.Helper()
	ctx := context.Background()
	c, err := nextidentity.New(ctx, srv.ClientConfig(clientID))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	req, err := c.AuthCodeURL()
	require.NoError(t, err)
	q, err := srv.Login(ctx, req.URL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.NoError(t, err)
	tok, err := c.Exchange(ctx, q, req)
	require.NoError(t, err)
	return c, tok
}

func sidOf(t *testing.T, tok *nextidentity.Token) string {
	t.Helper()
	var cl struct {
		SID string `json:"sid"`
	}
	require.NoError(t, tok.IDToken.Claims(&cl))
	return cl.SID
}

// header decodes a compact JWS's header.
func header(t *testing.T, raw string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	require.NoError(t, err)
	var h map[string]any
	require.NoError(t, json.Unmarshal(b, &h))
	return h
}

func TestBackChannelLogoutDiscovery(t *testing.T) {
	srv := newServer(t, nextidentitytest.Options{})
	c, err := nextidentity.New(context.Background(), srv.Config())
	require.NoError(t, err)
	defer c.Close()
	require.True(t, c.BackChannelLogoutSupported())
	require.True(t, c.BackChannelLogoutSessionSupported())
}

// ID tokens carry the provider session's sid for clients that registered a
// BackChannelLogoutURI, the same one for every client of the session and
// after a refresh; other clients' tokens have none.
func TestBackChannelLogoutSIDInIDTokens(t *testing.T) {
	rc := newReceiver(t, http.StatusOK)
	srv := newServer(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{
		bclClient("app-a", rc.URL), bclClient("app-b", rc.URL), bclClient("app-c", ""),
	}})
	_, a := bclSignIn(t, srv, "app-a")
	_, b := bclSignIn(t, srv, "app-b") // the same provider session, without a password
	_, other := bclSignIn(t, srv, "app-c")

	sid := sidOf(t, a)
	require.NotEmpty(t, sid)
	require.Equal(t, sid, sidOf(t, b))
	require.Empty(t, sidOf(t, other))

	// The personal-details journey redirects with a code of the same
	// provider session too.
	ctx := context.Background()
	ca, err := nextidentity.New(ctx, srv.ClientConfig("app-a"))
	require.NoError(t, err)
	defer ca.Close()
	br := srv.NewBrowser()
	req, err := ca.AuthCodeURL()
	require.NoError(t, err)
	q, err := br.Login(ctx, req.URL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.NoError(t, err)
	signedIn, err := ca.Exchange(ctx, q, req)
	require.NoError(t, err)
	req, err = ca.PersonalDetailsURL()
	require.NoError(t, err)
	q, err = br.EditProfile(ctx, req.URL, map[string]string{"given_name": "Janet"})
	require.NoError(t, err)
	edited, err := ca.Exchange(ctx, q, req)
	require.NoError(t, err)
	require.NotEqual(t, sid, sidOf(t, signedIn), "another browser, another session")
	require.Equal(t, sidOf(t, signedIn), sidOf(t, edited))
}

// EndSession sends each client of the user's session a logout token that
// VerifyLogoutToken accepts, naming the user and the session.
func TestEndSessionDeliversLogoutTokens(t *testing.T) {
	ctx := context.Background()
	ra, rb := newReceiver(t, http.StatusOK), newReceiver(t, http.StatusNoContent)
	srv := newServer(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{
		bclClient("app-a", ra.URL+"/bcl"), bclClient("app-b", rb.URL), bclClient("app-c", ""), bclClient("app-d", ra.URL+"/d"),
	}})
	ca, a := bclSignIn(t, srv, "app-a")
	cb, _ := bclSignIn(t, srv, "app-b")
	bclSignIn(t, srv, "app-c")
	// app-d registered a URI but never signed in: it gets nothing.

	require.NoError(t, srv.EndSession(ctx, nextidentitytest.DefaultUserSubject))

	sid := sidOf(t, a)
	for _, tc := range []struct {
		rc *receiver
		c  *nextidentity.Client
	}{{ra, ca}, {rb, cb}} {
		got := tc.rc.received()
		require.Len(t, got, 1)
		require.Equal(t, "logout+jwt", header(t, got[0])["typ"])
		lt, err := tc.c.VerifyLogoutToken(ctx, got[0])
		require.NoError(t, err)
		require.Equal(t, nextidentitytest.DefaultUserSubject, lt.Subject)
		require.Equal(t, sid, lt.SessionID)
		require.Equal(t, []string{tc.c.ClientID()}, lt.Audience)
		require.Equal(t, lt.IssuedAt.Add(nextidentitytest.LogoutTokenLifetime), lt.Expiry)
		var cl map[string]any
		require.NoError(t, lt.Claims(&cl))
		require.NotContains(t, cl, "nonce")
		// Delivered again, the token is a replay.
		_, err = tc.c.VerifyLogoutToken(ctx, got[0])
		require.ErrorIs(t, err, nextidentity.ErrLogoutTokenReplayed)
	}

	ds := srv.LogoutDeliveries()
	require.Len(t, ds, 2)
	for _, d := range ds {
		require.NoError(t, d.Err)
		require.Equal(t, sid, d.SessionID)
		require.Contains(t, []int{http.StatusOK, http.StatusNoContent}, d.StatusCode)
	}

	// The provider session is gone: signing in again needs the password.
	req, err := ca.AuthCodeURL(nextidentity.WithPrompt("none"))
	require.NoError(t, err)
	q, err := srv.Authorize(ctx, req.URL)
	require.NoError(t, err)
	require.Equal(t, "login_required", q.Get("error"))

	// Nothing left to end.
	require.NoError(t, srv.EndSession(ctx, nextidentitytest.DefaultUserSubject))
	require.Len(t, srv.LogoutDeliveries(), 2)
}

// Signing out at the end-session endpoint triggers the deliveries before
// the browser is sent back.
func TestEndSessionEndpointDeliversLogoutTokens(t *testing.T) {
	ctx := context.Background()
	rc := newReceiver(t, http.StatusOK)
	srv := newServer(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{bclClient("app-a", rc.URL)}})
	c, tok := bclSignIn(t, srv, "app-a")

	u := srv.URL + string(nextidentitytest.EndpointEndSession) + "?" + url.Values{
		"client_id":                {"app-a"},
		"post_logout_redirect_uri": {"http://127.0.0.1/app-a/signed-out"},
	}.Encode()
	_, _, err := srv.Browse(ctx, u)
	require.NoError(t, err)

	got := rc.received()
	require.Len(t, got, 1)
	lt, err := c.VerifyLogoutToken(ctx, got[0])
	require.NoError(t, err)
	require.Equal(t, sidOf(t, tok), lt.SessionID)
	require.Len(t, srv.LogoutDeliveries(), 1)
}

// A client that refuses the token, or does not answer in time, is reported.
func TestEndSessionReportsDeliveryErrors(t *testing.T) {
	ctx := context.Background()
	refusing := newReceiver(t, http.StatusBadRequest)
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm() // the server notices a closed connection once the body is read
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(release) }) // runs first
	srv := newServer(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{
		bclClient("app-a", refusing.URL), bclClient("app-b", hanging.URL),
	}})
	bclSignIn(t, srv, "app-a")
	bclSignIn(t, srv, "app-b")

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err := srv.EndSession(short, nextidentitytest.DefaultUserSubject)
	require.ErrorContains(t, err, `client "app-a"`)
	require.ErrorContains(t, err, "HTTP 400")
	require.ErrorIs(t, err, context.DeadlineExceeded)

	ds := srv.LogoutDeliveries()
	require.Len(t, ds, 2)
	byClient := map[string]nextidentitytest.LogoutDelivery{ds[0].ClientID: ds[0], ds[1].ClientID: ds[1]}
	require.Equal(t, http.StatusBadRequest, byClient["app-a"].StatusCode)
	require.Error(t, byClient["app-a"].Err)
	require.Zero(t, byClient["app-b"].StatusCode)
	require.Error(t, byClient["app-b"].Err)
	require.NotEmpty(t, byClient["app-b"].LogoutToken)
}

// With HS256 ID tokens, logout tokens are keyed with the client secret too;
// a public client's are RS256.
func TestLogoutTokenAlgorithms(t *testing.T) {
	ctx := context.Background()
	rc := newReceiver(t, http.StatusOK)
	public := bclClient("app-pub", rc.URL)
	public.Secret = ""
	srv := newServer(t, nextidentitytest.Options{
		SigningAlg: "HS256",
		Clients:    []nextidentitytest.Client{bclClient("app-a", rc.URL), public},
	})
	ca, _ := bclSignIn(t, srv, "app-a")
	cp, _ := bclSignIn(t, srv, "app-pub")
	require.NoError(t, srv.EndSession(ctx, nextidentitytest.DefaultUserSubject))

	byClient := map[string]string{}
	for _, d := range srv.LogoutDeliveries() {
		byClient[d.ClientID] = d.LogoutToken
	}
	require.Equal(t, "HS256", header(t, byClient["app-a"])["alg"])
	require.Equal(t, "RS256", header(t, byClient["app-pub"])["alg"])
	_, err := ca.VerifyLogoutToken(ctx, byClient["app-a"])
	require.NoError(t, err)
	_, err = cp.VerifyLogoutToken(ctx, byClient["app-pub"])
	require.NoError(t, err)
}

// LogoutTokenClaims and SignLogoutToken build hand-crafted tokens.
func TestSignLogoutToken(t *testing.T) {
	ctx := context.Background()
	srv := newServer(t, nextidentitytest.Options{})
	c, err := nextidentity.New(ctx, srv.Config())
	require.NoError(t, err)
	defer c.Close()

	cl := srv.LogoutTokenClaims(nextidentitytest.DefaultClientID, "", "sid-1")
	raw, err := srv.SignLogoutToken(cl)
	require.NoError(t, err)
	lt, err := c.VerifyLogoutToken(ctx, raw)
	require.NoError(t, err)
	require.Equal(t, "sid-1", lt.SessionID)
	require.Empty(t, lt.Subject)

	cl = srv.LogoutTokenClaims(nextidentitytest.DefaultClientID, nextidentitytest.DefaultUserSubject, "")
	cl["nonce"] = "n"
	raw, err = srv.SignLogoutToken(cl)
	require.NoError(t, err)
	_, err = c.VerifyLogoutToken(ctx, raw)
	require.ErrorIs(t, err, nextidentity.ErrLogoutTokenNonce)
}

func TestBackChannelLogoutURIValidated(t *testing.T) {
	for _, uri := range []string{"/relative", "ftp://127.0.0.1/x", "http://127.0.0.1/x#frag", "http://"} {
		require.Panics(t, func() {
			nextidentitytest.NewServer(nextidentitytest.Options{Clients: []nextidentitytest.Client{bclClient("app", uri)}}).Close()
		}, uri)
	}
}

// Each browser has its own provider session and sid: signing out in one
// browser logs out that session only; EndSession then ends the other.
func TestBackChannelLogoutPerBrowser(t *testing.T) {
	ctx := context.Background()
	rc := newReceiver(t, http.StatusOK)
	srv := newServer(t, nextidentitytest.Options{Clients: []nextidentitytest.Client{bclClient("app-a", rc.URL)}})
	c, err := nextidentity.New(ctx, srv.ClientConfig("app-a"))
	require.NoError(t, err)
	defer c.Close()

	sids := make([]string, 2)
	browsers := []*nextidentitytest.Browser{srv.NewBrowser(), srv.NewBrowser()}
	for i, b := range browsers {
		req, err := c.AuthCodeURL()
		require.NoError(t, err)
		q, err := b.Login(ctx, req.URL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
		require.NoError(t, err)
		tok, err := c.Exchange(ctx, q, req)
		require.NoError(t, err)
		sids[i] = sidOf(t, tok)
	}
	require.NotEqual(t, sids[0], sids[1])

	_, _, err = browsers[0].Browse(ctx, srv.URL+string(nextidentitytest.EndpointEndSession)+"?"+url.Values{
		"client_id": {"app-a"}, "post_logout_redirect_uri": {"http://127.0.0.1/app-a/signed-out"},
	}.Encode())
	require.NoError(t, err)
	require.NoError(t, srv.EndSession(ctx, nextidentitytest.DefaultUserSubject))

	got := rc.received()
	require.Len(t, got, 2)
	for i, raw := range got {
		lt, err := c.VerifyLogoutToken(ctx, raw)
		require.NoError(t, err)
		require.Equal(t, sids[i], lt.SessionID, "delivery %d", i)
	}
}
