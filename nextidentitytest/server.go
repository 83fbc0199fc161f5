package nextidentitytest

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oidc-kit/nextidentity"

	"github.com/oidc-kit/nextidentity/internal/fakecore"
)

// Endpoint names one of the provider's endpoints by its path. It is used by
// FailNext, SetLatency and Requests.
type Endpoint string

// The provider's endpoints.
const (
	EndpointDiscovery       Endpoint = fakecore.PathDiscovery
	EndpointJWKS            Endpoint = fakecore.PathJWKS
	EndpointAuthorize       Endpoint = fakecore.PathAuthorize
	EndpointLogin           Endpoint = fakecore.PathLogin // POST target of the hosted forms (sign-in, sign-up, personal details)
	EndpointToken           Endpoint = fakecore.PathToken
	EndpointUserInfo        Endpoint = fakecore.PathUserInfo
	EndpointEndSession      Endpoint = fakecore.PathEndSession
	EndpointRegister        Endpoint = fakecore.PathRegister
	EndpointPersonalDetails Endpoint = fakecore.PathPersonalDetails
)

// Lifetimes and formats the fake provider uses. They follow the provider's
// documentation.
const (
	// DefaultIDTokenLifetime is the ID token lifetime when
	// Options.IDTokenLifetime is zero.
	DefaultIDTokenLifetime = 14 * 24 * time.Hour
	// SessionLifetime is how long the provider's browser session lasts.
	SessionLifetime = 14 * 24 * time.Hour
	// CodeLifetime is how long an authorization code can be redeemed.
	CodeLifetime = 60 * time.Second
	// AccessTokenLifetime is the access token lifetime ("expires_in": 3600).
	AccessTokenLifetime = time.Hour
	// PendingLoginLifetime is how long a shown sign-in page stays usable.
	PendingLoginLifetime = 30 * time.Minute
	// SessionCookieName is the name of the provider's session cookie.
	SessionCookieName = "ni_session"
	// BrowserCookieName is the name of the cookie that binds a shown sign-in
	// page to the browser it was shown to: the form only works when posted
	// with the same cookie (protection against login CSRF).
	BrowserCookieName = "ni_browser"
	// UpdatedAtLayout is the time layout of the "updated_at" claim, e.g.
	// "2021-01-07 20:44:35.176625 +0000".
	UpdatedAtLayout = fakecore.UpdatedAtLayout
	// DefaultHTTPTimeout is the timeout of the clients HTTPClient returns.
	DefaultHTTPTimeout = 10 * time.Second
)

// Values of the default client and user (see DefaultClient and DefaultUser).
const (
	DefaultClientID     = "test-client"
	DefaultClientSecret = "test-secret"
	DefaultRedirectURI  = "http://127.0.0.1/callback"
	DefaultUserEmail    = "jane@example.com"
	DefaultUserPassword = "password"
	DefaultUserSubject  = fakecore.DefaultSubject
)

// maxFormBytes bounds every request body the server reads.
const maxFormBytes = 64 << 10

// User is an account at the fake provider.
//
// Its standard claims appear in the ID token and the userinfo response;
// empty strings are left out of both. As at the real provider, the scope
// decides which are released (OpenID Connect Core section 5.4): "profile"
// releases name, given_name, family_name, locale and updated_at; "email"
// releases email and email_verified; "phone" releases phone_number and
// phone_number_verified. With scope "openid" alone, only "sub" and the
// custom Claims are released.
type User struct {
	// Subject is the "sub" claim. AddUser and NewServer generate a random
	// UUID when it is empty.
	Subject string
	// Email is the "email" claim and the sign-in name, matched
	// case-insensitively. Empty makes a user who cannot sign in with an
	// email and password, and leaves "email" out.
	Email string
	// Password is the sign-in password, matched exactly.
	Password string
	// Name is the "name" claim, the full name. Empty leaves it out.
	Name string
	// GivenName is the "given_name" claim. Empty leaves it out.
	GivenName string
	// FamilyName is the "family_name" claim. Empty leaves it out.
	FamilyName string
	// PhoneNumber is the "phone_number" claim. Empty leaves it out.
	PhoneNumber string
	// Locale is the "locale" claim, a BCP 47 language tag such as "en-US".
	// Empty leaves it out.
	Locale string
	// EmailVerified is the "email_verified" claim, released with scope
	// "email" even when false (the zero value: not verified).
	EmailVerified bool
	// PhoneNumberVerified is the "phone_number_verified" claim, released
	// with scope "phone" even when false (the zero value: not verified).
	PhoneNumberVerified bool
	// UpdatedAt is the "updated_at" claim. Zero means the time the user was
	// added.
	UpdatedAt time.Time
	// Claims are custom claims, as configured for the user at the provider:
	// they appear in the ID token and in the userinfo response whatever the
	// scope. They cannot replace the standard claims the server sets itself
	// (sub, email, iss, aud, ...). To test an app that must not rely on a
	// custom claim, leave it out of Claims.
	Claims map[string]any

	// The fields below matter to the API integration (account.go). Email
	// is the user_id of auth_type "email" and PhoneNumber (compared without
	// spaces) the user_id of auth_type "sms"; EmailVerified and
	// PhoneNumberVerified are what /login checks for each (422
	// unverified_user when false).

	// LegalAccepted is whether the user has accepted the current legal
	// terms. When false, a successful API /login still answers 200 but
	// adds "legal_acceptance_required": true; an API /token with
	// "legal_acceptances": true, or the hosted activation screen, sets it.
	// The hosted journeys ignore it.
	LegalAccepted bool
	// LegalAcceptedAt is when the terms were accepted; the server sets it
	// with LegalAccepted. It shows on the API profile as
	// "legalAcceptedAt".
	LegalAcceptedAt time.Time
	// AwaitingActivation marks an invited account (API /pre-register) that
	// has not been activated yet: it has no password, so it cannot sign in
	// until the user sets one on the hosted activation screen (see
	// Message and EndpointActivate).
	AwaitingActivation bool
	// DeniedClients are the client IDs this user has no access to (the
	// provider's per-client "resourceAccess" attribute set to false): an
	// API /login through one of them answers 403 forbidden. Inviting the
	// user through that client (/pre-register) grants access again.
	DeniedClients []string
	// Profile holds the API profile fields the fake has no User field for
	// (for example "resourceAccessB2b" or "address1"), keyed by their API
	// names. /register, /pre-register and PUT /profile store them; GET
	// /profile returns them with the fields the User has.
	Profile map[string]any
}

// Client is an application registered with the fake provider.
type Client struct {
	// ID is the client_id.
	ID string
	// Secret is the client secret. Empty makes a public client, which must
	// use PKCE and does not authenticate at /token.
	Secret string
	// RedirectURIs are the allowed redirect_uri values: an exact match, or
	// for a loopback IP URI such as http://127.0.0.1/callback the same URI
	// on any port (RFC 8252 §7.3; a real tenant wants the exact URL). A
	// confidential client may have none: a back-end service using client
	// credentials (see Scopes) or a resource server that introspects.
	RedirectURIs []string
	// PostLogoutRedirectURIs are the allowed post_logout_redirect_uri values
	// (exact match). When empty, /endsession accepts any URI with the scheme
	// and host of one of RedirectURIs.
	PostLogoutRedirectURIs []string
	// Scopes are the scopes the client may ask for with the client
	// credentials grant; a client without Scopes cannot use that grant.
	Scopes []string
	// AccessTokenFormat is AccessTokenOpaque ("opaque", the default) or
	// AccessTokenJWT ("jwt": RFC 9068 JWTs, typ at+jwt, with
	// Options.AccessTokenAudience as "aud") for every access token the
	// client gets.
	AccessTokenFormat string
	// BackChannelLogoutURI, when set, receives a logout token when a
	// provider session this client signed in with ends, and the client's
	// ID tokens carry "sid" (see EndSession and backchannel.go).
	BackChannelLogoutURI string
	// Integration is the client's integration type: IntegrationHosted
	// (hosted journeys only: its API calls answer 403 forbidden),
	// IntegrationAPI (API only: /authorize, /register, /personal-details
	// and the hosted /forgot-password show the provider's "Invalid client"
	// page) or IntegrationBoth. Empty means IntegrationBoth. Invites
	// (/pre-register) work for every type, as at the provider.
	Integration string
	// RateLimit is the client's API rate limit in requests per minute:
	// from the request that makes more than RateLimit within the last
	// minute, its API calls answer 429 with a Retry-After header. Zero
	// means no limit. SetRateLimit changes it on a running server.
	RateLimit int
	// Passwordless makes a client whose sign-in method is a one-time code
	// rather than a password: API /register refuses newPassword (422
	// unexpected_keys) and answers with an "authorization_code" instead of
	// a "uuid", and /login is refused (use /idp/v1/otp/send and verify).
	Passwordless bool
	// Privileged lets the client register other clients through the Adopt
	// API (/idp/v1/applications/register, HTTP Basic with its secret).
	Privileged bool
}

// Options configures NewServer. The zero value is a working server with one
// client (DefaultClient) and one user (DefaultUser).
type Options struct {
	// Clients registered with the provider. Default: DefaultClient().
	Clients []Client
	// Users that can sign in. Default: DefaultUser().
	Users []User
	// SigningAlg is the ID token algorithm: "RS256" (default, header has a
	// kid), "HS256" (keyed with the client secret, no kid, like the
	// provider's documented example) or "ES256" (header has a kid).
	SigningAlg string
	// IssuerTrailingSlash makes the issuer the server URL plus "/", as the
	// real provider does on some tenants. The endpoints do not change.
	IssuerTrailingSlash bool
	// IDTokenLifetime is the ID token lifetime; default
	// DefaultIDTokenLifetime (14 days).
	IDTokenLifetime time.Duration
	// Now is the server's clock; default time.Now. It drives iat, exp,
	// auth_time and every expiry (codes, tokens, sessions).
	Now func() time.Time
	// Listener, when not nil, is where the server accepts connections
	// instead of a new listener on a random loopback port, for a provider
	// at a fixed address. The server URL (and so the issuer) is "http://"
	// plus its address, so it must be an address clients can reach. The
	// server owns it from then on: Close closes it.
	Listener net.Listener
	// OfflineAccessOnly makes the code exchange return a refresh token only
	// when the sign-in asked for the "offline_access" scope, as Dex and
	// other standard providers do (access_type=offline alone gets none).
	// The default returns one to every sign-in, as the provider's
	// documentation shows. Discovery lists offline_access either way.
	OfflineAccessOnly bool
	// AccessTokenAudience is the "aud" of JWT access tokens and of
	// introspection answers; default DefaultAccessTokenAudience.
	AccessTokenAudience string
	// EnvID, when set, is the environment ID the API integration expects
	// in the "env_id" query parameter: a different value answers 400
	// invalid_domain. A call without env_id is accepted, as with a custom
	// domain. Empty ignores env_id.
	EnvID string
	// ExistingInviteeStatus is how /pre-register without "resend" answers
	// for a user who already has an account. The provider documents two
	// answers: http.StatusOK (the default) with the user's "uuid", or
	// http.StatusUnprocessableEntity with invalid_form_fields on
	// emailAddress. Other values panic in NewServer.
	ExistingInviteeStatus int
	// RevokeRefreshFamilyOnReuse turns on refresh token reuse detection as
	// RFC 9700 section 4.14.2 describes it: a refresh token presented
	// again after it was rotated revokes every token of its grant (the
	// "family" that descends from one authorization code), the newest
	// refresh token and the live access tokens included, so that whoever
	// holds a copy, the attacker or the legitimate client, must sign in
	// again. Off by default, as at the provider, which does not document
	// it: a reused refresh token is then refused and the others stay
	// valid. Turn it on to test how an app handles a revoked grant.
	RevokeRefreshFamilyOnReuse bool
	// OnMessage, when set, is called with every Message the server sends,
	// in order, after it is in the outbox. It runs on one goroutine of its
	// own, never under the server's lock; Close waits for it to return.
	// The command "nextidentity fake" uses it to print the messages.
	OnMessage func(Message)
}

// DefaultClient returns the client NewServer registers when Options.Clients
// is empty.
func DefaultClient() Client {
	return Client{
		ID:           DefaultClientID,
		Secret:       DefaultClientSecret,
		RedirectURIs: []string{DefaultRedirectURI},
	}
}

// DefaultUser returns the user NewServer registers when Options.Users is
// empty: jane@example.com with password "password".
func DefaultUser() User {
	return User{
		Subject:       DefaultUserSubject,
		Email:         DefaultUserEmail,
		Password:      DefaultUserPassword,
		Name:          "Jane Doe",
		GivenName:     "Jane",
		FamilyName:    "Doe",
		Locale:        "en-US",
		EmailVerified: true,
		UpdatedAt:     fakecore.DefaultUpdatedAt,
		Claims:        map[string]any{"membership": "gold"},

		LegalAccepted:   true,
		LegalAcceptedAt: fakecore.DefaultUpdatedAt,
	}
}

// Server is a running fake Next Identity provider. Its methods are safe for
// concurrent use.
type Server struct {
	// URL is the base URL of the server, e.g. "http://127.0.0.1:43215",
	// without a trailing slash.
	URL string

	ts          *httptest.Server
	issuer      string
	idLifetime  time.Duration
	now         func() time.Time
	customClock bool
	closed      chan struct{}
	closeOnce   sync.Once

	mu      sync.Mutex
	clients map[string]Client
	order   []string // client ids in registration order
	users   []User
	alg     string
	rsaKeys []*signingKey[*rsa.PrivateKey]   // newest last; at most two
	ecKeys  []*signingKey[*ecdsa.PrivateKey] // newest last; at most two
	pending map[string]*authRequest
	codes   map[string]*authCode
	access  map[string]*grant
	refresh map[string]*grant
	// rotated maps refresh tokens spent by rotation to their family, when
	// Options.RevokeRefreshFamilyOnReuse is set; see refreshTokens.
	rotated  map[string]string
	sessions map[string]*session
	faults   map[Endpoint]*fault
	latency  map[Endpoint]time.Duration
	counts   map[Endpoint]int
	browser  *Browser // the default browser of Login, Authorize, Browse and ForgetSession

	events eventSigner // workflow events key, see events.go

	atAudience  string       // "aud" of access tokens, see tokenservice.go
	offlineOnly bool         // Options.OfflineAccessOnly
	bcl         backChannel  // back-channel logout deliveries, see backchannel.go
	acct        accountState // the API integration, see account.go
	hook        *messageHook // Options.OnMessage, see outbox.go
}

// NewServer starts a fake provider on a loopback address. Call Close when
// done. It panics on invalid Options (a duplicate or empty client id, a
// public client without redirect URIs, an unknown AccessTokenFormat or
// SigningAlg), like httptest panics on programmer errors.
func NewServer(opts Options) *Server {
	s := &Server{
		idLifetime:  opts.IDTokenLifetime,
		now:         opts.Now,
		customClock: opts.Now != nil,
		closed:      make(chan struct{}),
		clients:     map[string]Client{},
		pending:     map[string]*authRequest{},
		codes:       map[string]*authCode{},
		access:      map[string]*grant{},
		refresh:     map[string]*grant{},
		sessions:    map[string]*session{},
		faults:      map[Endpoint]*fault{},
		latency:     map[Endpoint]time.Duration{},
		counts:      map[Endpoint]int{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.idLifetime <= 0 {
		s.idLifetime = DefaultIDTokenLifetime
	}
	s.acct = newAccountState(opts)
	s.hook = newMessageHook(opts.OnMessage)
	s.alg = opts.SigningAlg
	s.offlineOnly = opts.OfflineAccessOnly
	s.atAudience = opts.AccessTokenAudience
	if opts.RevokeRefreshFamilyOnReuse {
		s.rotated = map[string]string{}
	}
	if s.atAudience == "" {
		s.atAudience = DefaultAccessTokenAudience
	}
	if s.alg == "" {
		s.alg = "RS256"
	}
	if !validAlg(s.alg) {
		panic(fmt.Sprintf("nextidentitytest: unsupported SigningAlg %q (want RS256, HS256 or ES256)", s.alg))
	}
	clients := opts.Clients
	if len(clients) == 0 {
		clients = []Client{DefaultClient()}
	}
	for _, c := range clients {
		if c.ID == "" {
			panic("nextidentitytest: Client.ID is empty")
		}
		if _, dup := s.clients[c.ID]; dup {
			panic(fmt.Sprintf("nextidentitytest: duplicate client id %q", c.ID))
		}
		if len(c.RedirectURIs) == 0 && c.Secret == "" {
			panic(fmt.Sprintf("nextidentitytest: public client %q has no RedirectURIs", c.ID))
		}
		if c.AccessTokenFormat != "" && c.AccessTokenFormat != AccessTokenOpaque && c.AccessTokenFormat != AccessTokenJWT {
			panic(fmt.Sprintf("nextidentitytest: client %q has unknown AccessTokenFormat %q", c.ID, c.AccessTokenFormat))
		}
		checkBackChannelLogoutURI(c)
		checkAccountClient(c)
		c.RedirectURIs = slices.Clone(c.RedirectURIs)
		c.Scopes = slices.Clone(c.Scopes)
		c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
		s.clients[c.ID] = c
		s.order = append(s.order, c.ID)
	}
	users := opts.Users
	if len(users) == 0 {
		users = []User{DefaultUser()}
	}
	for _, u := range users {
		s.addUserLocked(u)
	}
	s.rotateKeysLocked()

	mux := http.NewServeMux()
	s.route(mux, EndpointDiscovery, s.handleDiscovery)
	s.route(mux, EndpointJWKS, s.handleJWKS)
	s.route(mux, EndpointAuthorize, s.authorizeHandler(EndpointAuthorize))
	s.route(mux, EndpointRegister, s.authorizeHandler(EndpointRegister))
	s.route(mux, EndpointPersonalDetails, s.authorizeHandler(EndpointPersonalDetails))
	s.route(mux, EndpointLogin, s.handleLogin)
	s.route(mux, EndpointToken, s.handleToken)
	s.route(mux, EndpointUserInfo, s.handleUserInfo)
	s.route(mux, EndpointEndSession, s.handleEndSession)
	s.route(mux, EndpointEventsJWKS, s.handleEventsJWKS)
	s.route(mux, EndpointIntrospect, s.handleIntrospect)
	s.route(mux, EndpointRevoke, s.handleRevoke)
	s.route(mux, EndpointAccountLogout, s.handleAccountLogout)
	s.routeAccount(mux)
	// Fix the URL and issuer before serving, so handlers never see them change.
	s.ts = httptest.NewUnstartedServer(mux)
	if opts.Listener != nil {
		s.ts.Listener.Close()
		s.ts.Listener = opts.Listener
	}
	s.URL = "http://" + s.ts.Listener.Addr().String()
	s.browser = s.NewBrowser() // needs s.URL for its cookies
	s.issuer = s.URL
	if opts.IssuerTrailingSlash {
		s.issuer += "/"
	}
	s.ts.Start()
	if s.ts.URL != s.URL {
		panic(fmt.Sprintf("nextidentitytest: server URL %q, expected %q", s.ts.URL, s.URL))
	}
	return s
}

// Issuer returns the issuer exactly as the server puts it in "iss", the
// discovery document and the callback's "iss" parameter.
func (s *Server) Issuer() string { return s.issuer }

// Config returns a nextidentity.Config for the first registered client: the
// Issuer, ClientID, ClientSecret, RedirectURL (its first redirect URI) and an
// HTTPClient for this server. When Options.Now was set, Config.Now is that
// clock too, so the client checks tokens against the server's time.
func (s *Server) Config() nextidentity.Config {
	s.mu.Lock()
	id := s.order[0]
	s.mu.Unlock()
	return s.ClientConfig(id)
}

// ClientConfig is Config for the client with the given id (RedirectURL is
// empty for a client without RedirectURIs). It panics if no such client is
// registered.
func (s *Server) ClientConfig(clientID string) nextidentity.Config {
	s.mu.Lock()
	c, ok := s.clients[clientID]
	s.mu.Unlock()
	if !ok {
		panic(fmt.Sprintf("nextidentitytest: no client %q", clientID))
	}
	cfg := nextidentity.Config{
		Issuer:       s.issuer,
		ClientID:     c.ID,
		ClientSecret: c.Secret,
		HTTPClient:   s.HTTPClient(),
	}
	if len(c.RedirectURIs) > 0 {
		cfg.RedirectURL = c.RedirectURIs[0]
	}
	if s.customClock {
		cfg.Now = s.now
	}
	return cfg
}

// HTTPClient returns a new client that talks to this server, with a
// DefaultHTTPTimeout timeout. It has no cookie jar and follows redirects like
// http.DefaultClient.
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{Transport: s.ts.Client().Transport, Timeout: DefaultHTTPTimeout}
}

// Close shuts the server down, aborting any delayed responses, and blocks
// until all outstanding requests on it have completed.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.ts.Close()
		s.hook.close()
	})
}

// AddUser registers u, replacing any user with the same Subject or the same
// Email (case-insensitively). An empty Subject gets a random UUID and a zero
// UpdatedAt the current time. The Claims map is copied.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUserLocked(u)
}

func (s *Server) addUserLocked(u User) {
	if u.Subject == "" {
		u.Subject = newUUID()
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = s.now()
	}
	u.Claims = maps.Clone(u.Claims)
	u.Profile = maps.Clone(u.Profile)
	u.DeniedClients = slices.Clone(u.DeniedClients)
	s.users = slices.DeleteFunc(s.users, func(o User) bool {
		return o.Subject == u.Subject || (u.Email != "" && strings.EqualFold(o.Email, u.Email))
	})
	s.users = append(s.users, u)
}

func (s *Server) userBySubjectLocked(sub string) (User, bool) {
	for _, u := range s.users {
		if u.Subject == sub {
			return u, true
		}
	}
	return User{}, false
}

func (s *Server) userByCredentialsLocked(email, password string) (User, bool) {
	for _, u := range s.users {
		if u.Email != "" && strings.EqualFold(u.Email, email) && u.Password == password {
			return u, true
		}
	}
	return User{}, false
}

// endpointURL is the absolute URL of e.
func (s *Server) endpointURL(e Endpoint) string { return s.URL + string(e) }

func validAlg(alg string) bool { return alg == "RS256" || alg == "HS256" || alg == "ES256" }
