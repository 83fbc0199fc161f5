package nextidentity

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/oidc-kit/nextidentity/internal/telemetry"
)

// Token is the result of a code exchange or refresh. It round-trips through
// encoding/json with its verified ID token, so session stores can keep it:
// IDToken is encoded as its verified claims, and a decoded Token is trusted
// as it stands, not verified again.
//
// A Token returned by a Client carries that client's clock (Config.Now) for
// Valid; compare Tokens field by field, not with reflect.DeepEqual.
type Token struct {
	// AccessToken authorizes requests to the provider's APIs (userinfo) as a
	// Bearer token.
	AccessToken string `json:"access_token"`
	// TokenType is the provider's token_type: "Bearer", in whatever letter
	// case the provider used (the client refuses any other type).
	TokenType string `json:"token_type,omitempty"`
	// RefreshToken redeems a new Token (Client.Refresh); empty when the
	// provider issued none (ask with WithOfflineAccess).
	RefreshToken string `json:"refresh_token,omitempty"`
	// RawIDToken is the ID token as received, for LogoutRequest.IDTokenHint;
	// empty when the response had none (a refresh may not return one).
	RawIDToken string `json:"id_token,omitempty"`
	// Expiry is when the access token expires, from expires_in on the
	// client's clock. Zero means the provider sent no expires_in (lifetime
	// unknown); a zero, negative or non-numeric expires_in gives the time
	// of the response: expired.
	Expiry time.Time `json:"expiry,omitzero"`
	// Scope is the granted scope when the provider returned one, else "".
	Scope string `json:"scope,omitempty"`
	// IDToken is the verified RawIDToken. It survives a JSON round trip
	// even when RawIDToken is dropped to save space.
	IDToken *IDToken `json:"id_token_claims,omitempty"`

	// clock is the clock of the Client that returned the token (its
	// Config.Now); nil for a Token the application built or decoded. A
	// pointer, so that Token stays comparable with ==.
	clock *func() time.Time
}

// expiryDelta is how long before Expiry a token stops being Valid, so it is
// not used in its last seconds.
const expiryDelta = 10 * time.Second

// Valid reports whether the token has an access token that does not expire
// within the next 10 seconds. It reads the clock of the Client that returned
// the token (Config.Now), so tests that move a fake clock see tokens expire.
// A Token the application built or decoded from JSON has no client and reads
// time.Now; hand it to Client.TokenSource, which uses the client's clock.
func (t *Token) Valid() bool {
	now := time.Now
	if t != nil && t.clock != nil {
		now = *t.clock
	}
	return t.validAt(now())
}

func (t *Token) validAt(now time.Time) bool { return t.freshAt(now, expiryDelta) }

// freshAt reports whether the token has an access token that does not
// expire within margin of now.
func (t *Token) freshAt(now time.Time, margin time.Duration) bool {
	return t != nil && t.AccessToken != "" && (t.Expiry.IsZero() || now.Add(margin).Before(t.Expiry))
}

// OAuth2 returns the token as an *oauth2.Token, with the raw ID token under
// the extra key "id_token", for use with golang.org/x/oauth2 transports.
func (t *Token) OAuth2() *oauth2.Token {
	o := &oauth2.Token{
		AccessToken:  t.AccessToken,
		TokenType:    t.TokenType,
		RefreshToken: t.RefreshToken,
		Expiry:       t.Expiry,
	}
	if t.RawIDToken != "" {
		o = o.WithExtra(map[string]any{"id_token": t.RawIDToken})
	}
	return o
}

type tokenResponse struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type"`
	RefreshToken string    `json:"refresh_token"`
	IDToken      string    `json:"id_token"`
	ExpiresIn    expiresIn `json:"expires_in"`
	Scope        string    `json:"scope"`

	clock *func() time.Time // the Client's, given to the Token
}

// expiresIn is the "expires_in" member: a number of seconds, or a numeric
// string some deployments send. Only an absent (or null) member means the
// lifetime is unknown: a lifetime that is zero, negative or not a number
// means the token is expired already, so that it is refreshed rather than
// trusted for ever.
type expiresIn struct {
	set bool          // the member was present and not null
	d   time.Duration // the lifetime; <= 0 when expired already
}

// maxExpiresIn caps absurd lifetimes (ten years).
const maxExpiresIn = 10 * 365 * 24 * 3600

func (e *expiresIn) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*e = expiresIn{}
		return nil
	}
	*e = expiresIn{set: true}
	f, err := strconv.ParseFloat(strings.Trim(string(b), `"`), 64)
	if err != nil || math.IsNaN(f) || f <= 0 {
		return nil // not a positive number: expired now
	}
	e.d = time.Duration(min(f, maxExpiresIn) * float64(time.Second))
	return nil
}

// Exchange completes a sign-in. callback is the redirect's query; req is the
// AuthRequest from AuthCodeURL, whole: a nil one or one without State, Nonce
// or CodeVerifier gives ErrIncompleteAuthRequest. Before any network call it
// turns an "error" parameter into an *Error, then checks, each under
// ErrInvalidCallback: the state (ErrStateMismatch); the RFC 9207 "iss"
// parameter (ErrIssuerMismatch), checked when present and required when
// discovery sets authorization_response_iss_parameter_supported; and the
// code (ErrMissingCode). It then redeems the code with the PKCE verifier and
// verifies the ID token with req.Nonce, its at_hash when present, and its
// auth_time when req.MaxAge is set.
func (c *Client) Exchange(ctx context.Context, callback url.Values, req *AuthRequest) (_ *Token, err error) {
	ctx, op := c.tel.Start(ctx, telemetry.SignIn)
	defer op.End(&err)
	code, err := c.checkCallback(ctx, callback, req)
	if err != nil {
		return nil, err
	}
	if code == "" {
		return nil, invalidCallback(ErrMissingCode, "")
	}
	return c.redeem(ctx, code, req)
}

// ForgotPasswordCallback finishes the hosted forgot-password journey
// (ForgotPasswordURL) when the browser comes back to RedirectURL. It checks
// the callback as Exchange does: an "error" parameter becomes an *Error,
// req must be whole, and the state must match (ErrStateMismatch, under
// ErrInvalidCallback), as must "iss" where sent or promised. The provider
// does not document whether the user comes back signed in: with a "code"
// the code is redeemed and the ID token verified as at a sign-in, and the
// *Token returned; without one, it returns a nil *Token and a nil error: the
// password was reset and the user signs in again (AuthCodeURL).
func (c *Client) ForgotPasswordCallback(ctx context.Context, callback url.Values, req *AuthRequest) (*Token, error) {
	code, err := c.checkCallback(ctx, callback, req)
	if err != nil || code == "" {
		return nil, err
	}
	return c.redeem(ctx, code, req)
}

// checkCallback checks an authorization response against req (error,
// state, iss) and returns its code: "" when there is none, an error when
// it is empty or repeated.
func (c *Client) checkCallback(ctx context.Context, callback url.Values, req *AuthRequest) (string, error) {
	if codes, ok := callback["error"]; ok {
		// Any "error" parameter, even an empty or repeated one, ends the
		// flow: a code beside it is never redeemed.
		return "", callbackError(firstNonEmpty(codes...), callback.Get("error_description"), callback.Get("error_uri"))
	}
	if err := req.complete(); err != nil {
		return "", err
	}
	if st := callback["state"]; len(st) != 1 || subtle.ConstantTimeCompare([]byte(st[0]), []byte(req.State)) != 1 {
		return "", invalidCallback(ErrStateMismatch, "callback state is missing or differs")
	}
	p, err := c.provider(ctx)
	if err != nil {
		return "", err
	}
	iss, ok := callback["iss"]
	if ok && (len(iss) != 1 || iss[0] != c.cfg.Issuer) {
		return "", invalidCallback(ErrIssuerMismatch, "callback iss %q, want %q", iss, c.cfg.Issuer)
	}
	if !ok && p.issParam {
		return "", invalidCallback(ErrIssuerMismatch, "callback has no iss, which discovery's authorization_response_iss_parameter_supported promises")
	}
	code, ok := callback["code"]
	if !ok {
		return "", nil
	}
	if len(code) != 1 || code[0] == "" {
		return "", invalidCallback(ErrMissingCode, "")
	}
	return code[0], nil
}

// redeem exchanges a checked callback's code with req's PKCE verifier and
// verifies the ID token with req's nonce (and max_age).
func (c *Client) redeem(ctx context.Context, code string, req *AuthRequest) (*Token, error) {
	form := url.Values{
		"grant_type":   {"authorization_code"},
		"code":         {code},
		"redirect_uri": {c.cfg.RedirectURL},
	}
	form.Set("code_verifier", req.CodeVerifier)
	tr, err := c.tokenRequest(ctx, form)
	if err != nil {
		return nil, err
	}
	tok := tr.token(c.now())
	if tr.IDToken == "" {
		return nil, invalidIDToken(nil, "the token response has no id_token")
	}
	if tok.IDToken, err = c.verifyWithAccessToken(ctx, tr.IDToken, req.Nonce, tok.AccessToken); err != nil {
		return nil, err
	}
	if req.MaxAge != nil {
		if err := c.checkAuthTime(tok.IDToken, *req.MaxAge); err != nil {
			return nil, err
		}
	}
	return tok, nil
}

// checkAuthTime enforces max_age (OpenID Connect Core 3.1.2.1 and 3.1.3.7
// item 11): auth_time must be present and no older than maxAge, with the
// leeway.
func (c *Client) checkAuthTime(idt *IDToken, maxAge time.Duration) error {
	if idt.AuthTime.IsZero() {
		return invalidIDToken(ErrAuthTooOld, "no auth_time claim, but max_age was sent")
	}
	if age := c.now().Sub(idt.AuthTime); age > maxAge+c.leeway {
		return invalidIDToken(ErrAuthTooOld, "auth_time %s is %s old, more than max_age %s",
			idt.AuthTime.UTC().Format(time.RFC3339), age.Round(time.Second), maxAge)
	}
	return nil
}

// complete reports whether r has every secret Exchange needs: without the
// nonce or the verifier the ID token's nonce check or PKCE would be skipped.
func (r *AuthRequest) complete() error {
	var missing []string
	switch {
	case r == nil:
		return fmt.Errorf("%w: nil (no pending authorization request)", ErrIncompleteAuthRequest)
	case r.State == "":
		missing = append(missing, "State")
	}
	if r.Nonce == "" {
		missing = append(missing, "Nonce")
	}
	if r.CodeVerifier == "" {
		missing = append(missing, "CodeVerifier")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: no %s (restore every field AuthCodeURL returned)", ErrIncompleteAuthRequest, strings.Join(missing, ", "))
	}
	return nil
}

// Refresh redeems tok.RefreshToken for a new token. The old refresh token is
// kept when the provider returns none. A returned ID token is verified (no
// nonce is required) and must name the same issuer and subject as tok's
// (ErrIssuerMismatch, ErrSubjectMismatch, under ErrInvalidIDToken); when
// none is returned, tok's is kept.
func (c *Client) Refresh(ctx context.Context, tok *Token) (_ *Token, err error) {
	ctx, op := c.tel.Start(ctx, telemetry.Refresh)
	defer op.End(&err)
	if tok == nil || tok.RefreshToken == "" {
		return nil, ErrNoRefreshToken
	}
	tr, err := c.tokenRequest(ctx, url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {tok.RefreshToken},
	})
	if err != nil {
		return nil, err
	}
	nt := tr.token(c.now())
	if nt.RefreshToken == "" {
		nt.RefreshToken = tok.RefreshToken
	}
	if tr.IDToken == "" {
		nt.RawIDToken, nt.IDToken = tok.RawIDToken, tok.IDToken
		return nt, nil
	}
	if nt.IDToken, err = c.verifyWithAccessToken(ctx, tr.IDToken, "", nt.AccessToken); err != nil {
		return nil, err
	}
	oldIss, oldSub, err := tok.subject()
	if err != nil {
		return nil, err
	}
	if oldSub != "" && nt.IDToken.Issuer != oldIss {
		return nil, invalidIDToken(ErrIssuerMismatch, "refreshed id_token iss %q, session's %q", nt.IDToken.Issuer, oldIss)
	}
	if oldSub != "" && nt.IDToken.Subject != oldSub {
		return nil, invalidIDToken(ErrSubjectMismatch, "refreshed id_token sub %q, session's %q", nt.IDToken.Subject, oldSub)
	}
	return nt, nil
}

// subject returns the issuer and subject of the token's ID token, from
// IDToken or, for a token restored from storage, from RawIDToken. Both are ""
// when the token has no ID token.
func (t *Token) subject() (iss, sub string, err error) {
	switch {
	case t.IDToken != nil:
		return t.IDToken.Issuer, t.IDToken.Subject, nil
	case t.RawIDToken != "":
		return unverifiedSubject(t.RawIDToken)
	}
	return "", "", nil
}

func (c *Client) verifyWithAccessToken(ctx context.Context, raw, nonce, accessToken string) (*IDToken, error) {
	idt, err := c.VerifyIDToken(ctx, raw, nonce)
	if err != nil {
		return nil, err
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(accessToken); err != nil {
			return nil, err
		}
	}
	return idt, nil
}

func (tr *tokenResponse) token(now time.Time) *Token {
	t := &Token{
		AccessToken:  tr.AccessToken,
		TokenType:    tr.TokenType,
		RefreshToken: tr.RefreshToken,
		RawIDToken:   tr.IDToken,
		Scope:        tr.Scope,
		clock:        tr.clock,
	}
	if tr.ExpiresIn.set {
		// A lifetime <= 0 gives Expiry = now: expired, and not the zero
		// time that means "unknown".
		t.Expiry = now.Add(max(tr.ExpiresIn.d, 0))
	}
	return t
}

// tokenRequest posts form to the token endpoint with client authentication.
// Redirects are not followed, so credentials never go to another host.
func (c *Client) tokenRequest(ctx context.Context, form url.Values) (_ *tokenResponse, err error) {
	ctx, op := c.tel.StartToken(ctx, form.Get("grant_type"))
	defer op.End(&err)
	form.Set("client_id", c.cfg.ClientID)
	secret := c.cfg.ClientSecret
	if secret != "" && c.cfg.AuthStyle == AuthStyleInParams {
		form.Set("client_secret", secret)
	}
	p, err := c.provider(ctx)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoints.token, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("nextidentity: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if secret != "" && c.cfg.AuthStyle == AuthStyleBasic {
		// RFC 6749 section 2.3.1: form-encode id and secret before Basic.
		req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(secret))
	}
	var tr tokenResponse
	body, status, err := c.doJSON(c.strict, req, "token", &tr)
	if err != nil {
		return nil, err
	}
	if err := c.checkTokenResponse(&tr, "token", status, body); err != nil {
		return nil, err
	}
	return &tr, nil
}

// checkTokenResponse requires an access token of type Bearer and gives tr
// the client's clock.
func (c *Client) checkTokenResponse(tr *tokenResponse, endpoint string, status int, body []byte) error {
	if tr.AccessToken == "" {
		return malformed(endpoint, status, body, errors.New("no access_token"))
	}
	tr.clock = &c.now
	if !strings.EqualFold(tr.TokenType, "Bearer") {
		// The client would send it as a Bearer token, which a DPoP- or
		// MAC-bound token is not. The body holds the tokens: no excerpt.
		return &Error{Endpoint: endpoint, StatusCode: status,
			err: fmt.Errorf("%w: token_type %.40q is not Bearer", ErrMalformedResponse, tr.TokenType)}
	}
	return nil
}

// TokenFromResponse turns the body of a successful token response in the
// RFC 6749 section 5.1 shape, from an endpoint other than the OIDC token
// endpoint (such as the account API's /token), into a *Token, as Exchange
// does for its own: access_token is required and token_type must be
// "Bearer" in any letter case; expires_in, refresh_token, scope and id_token
// are optional, and Expiry counts from now on the client's clock. An
// id_token, when present, is verified as VerifyIDToken does without a nonce
// (such an endpoint takes none), and against the access token when it
// carries at_hash. endpoint names the source in errors. A body that is not
// such a response is an *Error wrapping ErrMalformedResponse (its excerpt
// never shows a token); a failed ID token wraps ErrInvalidIDToken.
func (c *Client) TokenFromResponse(ctx context.Context, endpoint string, body []byte) (*Token, error) {
	start := c.now()
	if e := providerError(endpoint, http.StatusOK, body); e != nil {
		return nil, e
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, malformed(endpoint, http.StatusOK, body, err)
	}
	if err := c.checkTokenResponse(&tr, endpoint, http.StatusOK, body); err != nil {
		return nil, err
	}
	tok := tr.token(start)
	if tr.IDToken != "" {
		idt, err := c.verifyWithAccessToken(ctx, tr.IDToken, "", tok.AccessToken)
		if err != nil {
			return nil, err
		}
		tok.IDToken = idt
	}
	return tok, nil
}

// TokenSource returns its token while it does not expire within
// Config.RefreshMargin and refreshes it through the client when it does:
// once for all concurrent callers. It implements oauth2.TokenSource, so it
// plugs into oauth2.NewClient and friends; CurrentContext takes a context
// per call.
type TokenSource struct {
	c         *Client
	ctx       context.Context
	onRefresh func(*Token)
	// sem is held across a check and refresh: a channel rather than a
	// mutex, so that a caller waiting for another's refresh can give up
	// when its context ends.
	sem chan struct{}
	tok *Token // guarded by sem
}

// TokenSource returns a TokenSource starting from tok. ctx is used for the
// refresh requests of Token and Current (CurrentContext uses its own). onRefresh, when not nil, is called with every new token
// (before it is handed out) so the app can persist it. Validity is judged on
// the client's clock (Config.Now): a tok without one (built or decoded by the
// application) is copied and given it, so the tokens handed out say the same
// from Valid.
func (c *Client) TokenSource(ctx context.Context, tok *Token, onRefresh func(*Token)) *TokenSource {
	if tok != nil && tok.clock == nil {
		cp := *tok
		cp.clock = &c.now
		tok = &cp
	}
	return &TokenSource{c: c, ctx: ctx, tok: tok, onRefresh: onRefresh, sem: make(chan struct{}, 1)}
}

// Token returns a valid token as an *oauth2.Token (oauth2.TokenSource).
func (s *TokenSource) Token() (*oauth2.Token, error) {
	t, err := s.Current()
	if err != nil {
		return nil, err
	}
	return t.OAuth2(), nil
}

// Current returns a valid token, refreshing it first if needed, with the
// context given to Client.TokenSource.
func (s *TokenSource) Current() (*Token, error) { return s.CurrentContext(s.ctx) }

// CurrentContext returns the token while it does not expire within
// Config.RefreshMargin, else refreshes it first. ctx bounds this call: the
// wait for a refresh another caller has started (ended early with ctx's
// error) and the refresh request this call makes, which also carries ctx's
// values (trace context, for example). A failed refresh is not remembered:
// the next call tries again.
func (s *TokenSource) CurrentContext(ctx context.Context) (*Token, error) {
	select {
	case s.sem <- struct{}{}:
	default:
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("nextidentity: waiting for a token refresh: %w", ctx.Err())
		}
	}
	defer func() { <-s.sem }()
	if s.tok.freshAt(s.c.now(), s.c.margin) {
		return s.tok, nil
	}
	nt, err := s.c.Refresh(ctx, s.tok)
	if err != nil {
		return nil, err
	}
	s.tok = nt
	if s.onRefresh != nil {
		s.onRefresh(nt)
	}
	return nt, nil
}
