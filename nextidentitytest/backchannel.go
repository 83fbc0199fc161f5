package nextidentitytest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Back-channel logout (OpenID Connect Back-Channel Logout 1.0). Next
// Identity does not document it; the fake follows the specification, so that
// applications can test the feature they switch on from discovery.
//
// A client that registers a BackChannelLogoutURI gets a "sid" claim in its
// ID tokens: the id of the provider session the user signed in with (not the
// session cookie). When that provider session ends, at the end-session
// endpoint or by EndSession, the server POSTs a logout token to every such
// client that received ID tokens from it.

// BackChannelLogoutEvent is the member of a logout token's "events" claim
// that makes it a logout token.
const BackChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// BackChannelLogoutTimeout is how long the server waits for a client's
// answer to a logout token.
const BackChannelLogoutTimeout = 5 * time.Second

// LogoutTokenLifetime is the time between a logout token's "iat" and "exp".
const LogoutTokenLifetime = 2 * time.Minute

// maxLogoutAnswerBytes bounds how much of a client's answer is read.
const maxLogoutAnswerBytes = 4 << 10

// maxLogoutDeliveries bounds how many deliveries LogoutDeliveries remembers.
const maxLogoutDeliveries = 100

// LogoutDelivery is one back-channel logout request the server made.
type LogoutDelivery struct {
	// ClientID is the ID of the client notified.
	ClientID string
	// URI is the client's BackChannelLogoutURI, where the token was posted.
	URI string
	// Subject is the logout token's "sub" claim, the user signed out.
	Subject string
	// SessionID is the logout token's "sid" claim, the provider session
	// ended.
	SessionID string
	// LogoutToken is the token sent, so a test can deliver it again.
	LogoutToken string
	// StatusCode is the client's answer; 0 when there was none.
	StatusCode int
	// Err is nil when the client answered 200 or 204 (the specification
	// asks providers to accept both), else what went wrong.
	Err error
}

// bclSession is a provider session's back-channel logout state.
type bclSession struct {
	sid     string   // the "sid" claim; generated on first use
	clients []string // ids of clients that received ID tokens from the session
}

// backChannel is the server's back-channel logout state.
type backChannel struct {
	mu         sync.Mutex
	deliveries []LogoutDelivery
}

// checkBackChannelLogoutURI panics when c's BackChannelLogoutURI is set but
// not an absolute http(s) URL without fragment (section 2.2).
func checkBackChannelLogoutURI(c Client) {
	if c.BackChannelLogoutURI == "" {
		return
	}
	u, err := url.Parse(c.BackChannelLogoutURI)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		panic(fmt.Sprintf("nextidentitytest: client %q: BackChannelLogoutURI %q is not an absolute http(s) URL without fragment", c.ID, c.BackChannelLogoutURI))
	}
}

// publicSIDLocked returns sess's "sid", creating it on first use.
func (sess *session) publicSIDLocked() string {
	if sess.bcl.sid == "" {
		sess.bcl.sid = newUUID()
	}
	return sess.bcl.sid
}

// joinSession records that c receives an ID token from the provider session
// sid, and adds the "sid" claim to claims when c has a BackChannelLogoutURI.
func (s *Server) joinSession(claims map[string]any, c Client, sid string) {
	if sid == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.BackChannelLogoutURI != "" {
		claims["sid"] = sid
	}
	for _, sess := range s.sessions {
		if sess.bcl.sid == sid && !slices.Contains(sess.bcl.clients, c.ID) {
			sess.bcl.clients = append(sess.bcl.clients, c.ID)
		}
	}
}

// EndSession ends every provider session of the user subject, as an
// administrator signing the user out everywhere would, and sends a logout
// token to each client that received ID tokens from one of those sessions
// and registered a BackChannelLogoutURI. It returns when every delivery has
// been answered or has failed, joining the delivery errors (see
// LogoutDeliveries for all deliveries). Ending no session is not an error.
// The fake browsers keep their now useless session cookies.
func (s *Server) EndSession(ctx context.Context, subject string) error {
	s.mu.Lock()
	var ended []*session
	for id, sess := range s.sessions {
		if sess.sub == subject {
			ended = append(ended, sess)
			delete(s.sessions, id)
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, sess := range ended {
		errs = append(errs, s.logoutClients(ctx, sess))
	}
	return errors.Join(errs...)
}

// logoutClients sends a logout token for the ended session sess (nil for
// none) to each of its clients with a BackChannelLogoutURI, one after the
// other, and joins the delivery errors.
func (s *Server) logoutClients(ctx context.Context, sess *session) error {
	if sess == nil {
		return nil
	}
	s.mu.Lock()
	sub, sid := sess.sub, sess.bcl.sid
	var targets []Client
	for _, id := range sess.bcl.clients {
		if c, ok := s.clients[id]; ok && c.BackChannelLogoutURI != "" {
			targets = append(targets, c)
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, c := range targets {
		d := s.deliverLogout(ctx, c, sub, sid)
		s.bcl.mu.Lock()
		if len(s.bcl.deliveries) == maxLogoutDeliveries {
			s.bcl.deliveries = slices.Delete(s.bcl.deliveries, 0, 1)
		}
		s.bcl.deliveries = append(s.bcl.deliveries, d)
		s.bcl.mu.Unlock()
		errs = append(errs, d.Err)
	}
	return errors.Join(errs...)
}

// LogoutDeliveries returns the back-channel logout requests made so far,
// oldest first (at most the last 100), including those the end-session
// endpoint made.
func (s *Server) LogoutDeliveries() []LogoutDelivery {
	s.bcl.mu.Lock()
	defer s.bcl.mu.Unlock()
	return slices.Clone(s.bcl.deliveries)
}

// LogoutTokenClaims returns the claims of a logout token for clientID about
// subject and, when sid is not empty, the provider session sid: iss, aud,
// iat (the server's clock), exp (LogoutTokenLifetime later), a fresh jti and
// the back-channel logout event. There is no nonce. A test changes them and
// signs them with SignLogoutToken to send a hand-crafted token.
func (s *Server) LogoutTokenClaims(clientID, subject, sid string) map[string]any {
	now := s.now()
	m := map[string]any{
		"iss":    s.issuer,
		"aud":    clientID,
		"iat":    now.Unix(),
		"exp":    now.Add(LogoutTokenLifetime).Unix(),
		"jti":    newUUID(),
		"events": map[string]any{BackChannelLogoutEvent: map[string]any{}},
	}
	if subject != "" {
		m["sub"] = subject
	}
	if sid != "" {
		m["sid"] = sid
	}
	return m
}

// SignLogoutToken signs claims, unchanged, as the server signs logout tokens:
// with the ID token algorithm and key (HS256 with the secret of the client
// named by "aud", or RS256 when that client is public) and the header "typ":
// "logout+jwt".
func (s *Server) SignLogoutToken(claims map[string]any) (string, error) {
	aud := audience(claims)
	s.mu.Lock()
	alg := s.alg
	if c := s.clients[aud]; alg == "HS256" && c.Secret == "" {
		alg = "RS256" // a public client has no secret to key HMAC with
	}
	s.mu.Unlock()
	return s.signTyped(alg, claims, aud, "logout+jwt")
}

// deliverLogout signs a logout token for c and POSTs it to c's
// BackChannelLogoutURI as the form parameter logout_token.
func (s *Server) deliverLogout(ctx context.Context, c Client, sub, sid string) LogoutDelivery {
	d := LogoutDelivery{ClientID: c.ID, URI: c.BackChannelLogoutURI, Subject: sub, SessionID: sid}
	fail := func(err error) LogoutDelivery {
		d.Err = fmt.Errorf("nextidentitytest: back-channel logout of client %q at %s: %w", c.ID, c.BackChannelLogoutURI, err)
		return d
	}
	tok, err := s.SignLogoutToken(s.LogoutTokenClaims(c.ID, sub, sid))
	if err != nil {
		return fail(err)
	}
	d.LogoutToken = tok
	ctx, cancel := context.WithTimeout(ctx, BackChannelLogoutTimeout)
	defer cancel()
	body := url.Values{"logout_token": {tok}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BackChannelLogoutURI, strings.NewReader(body))
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxLogoutAnswerBytes))
	d.StatusCode = resp.StatusCode
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return fail(fmt.Errorf("HTTP %d: %.200q", resp.StatusCode, answer))
	}
	return d
}
