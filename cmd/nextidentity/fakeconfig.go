package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/oidc-kit/nextidentity/internal/httpx"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// maxConfigBytes bounds the fake's configuration file.
const maxConfigBytes = 1 << 20

// fakeConfig is the JSON configuration file of "nextidentity fake". Every
// field is optional; testdata/fake.json is a complete example and the README
// documents the schema.
type fakeConfig struct {
	// SigningAlg is "RS256" (default), "ES256" or "HS256" (keyed with each
	// client's secret).
	SigningAlg string `json:"signing_alg"`
	// IssuerTrailingSlash makes the issuer end with "/".
	IssuerTrailingSlash bool `json:"issuer_trailing_slash"`
	// IDTokenLifetime is a Go duration such as "1h"; default 14 days.
	IDTokenLifetime string `json:"id_token_lifetime"`
	// AccessTokenAudience is the "aud" of JWT access tokens and of
	// introspection answers.
	AccessTokenAudience string `json:"access_token_audience"`
	// RevokeRefreshFamilyOnReuse: reusing a rotated refresh token revokes
	// every token of its grant (RFC 9700 section 4.14.2).
	RevokeRefreshFamilyOnReuse bool `json:"revoke_refresh_family_on_reuse"`
	// Clients default to nextidentitytest.DefaultClient().
	Clients []fakeClient `json:"clients"`
	// Users default to nextidentitytest.DefaultUser().
	Users []fakeUser `json:"users"`
	// EnvID is the env_id the API integration expects (Options.EnvID).
	EnvID string `json:"env_id"`
	// ExistingInviteeStatus is 200 (default) or 422 (Options.ExistingInviteeStatus).
	ExistingInviteeStatus int `json:"existing_invitee_status"`
}

// fakeClient is one registered application.
type fakeClient struct {
	ID                     string   `json:"client_id"`
	Secret                 string   `json:"client_secret"`
	RedirectURIs           []string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	Scopes                 []string `json:"scopes,omitempty"`
	AccessTokenFormat      string   `json:"access_token_format,omitempty"`
	BackChannelLogoutURI   string   `json:"backchannel_logout_uri,omitempty"`
	// The API integration (see nextidentitytest.Client).
	Integration  string `json:"integration,omitempty"` // "hosted", "api" or "both" (default)
	RateLimit    int    `json:"rate_limit,omitempty"`  // API requests per minute; 0: none
	Passwordless bool   `json:"passwordless,omitempty"`
	Privileged   bool   `json:"privileged,omitempty"`
}

// fakeUser is one account; the field names are the claim names.
type fakeUser struct {
	Subject             string         `json:"sub"`
	Email               string         `json:"email"`
	Password            string         `json:"password"`
	EmailVerified       bool           `json:"email_verified"`
	Name                string         `json:"name"`
	GivenName           string         `json:"given_name"`
	FamilyName          string         `json:"family_name"`
	PhoneNumber         string         `json:"phone_number"`
	PhoneNumberVerified bool           `json:"phone_number_verified"`
	Locale              string         `json:"locale"`
	UpdatedAt           *time.Time     `json:"updated_at"`
	Claims              map[string]any `json:"claims"`
	// LegalAccepted defaults to true: a configured user has accepted the
	// legal terms unless the file says otherwise.
	LegalAccepted *bool          `json:"legal_accepted"`
	DeniedClients []string       `json:"denied_clients"`
	Profile       map[string]any `json:"profile"`
}

// reservedClaims cannot be custom claims: the server sets them itself or
// they have their own field.
var reservedClaims = []string{
	"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "azp", "at_hash", "c_hash", "sid",
	"email", "email_verified", "name", "given_name", "family_name",
	"phone_number", "phone_number_verified", "locale", "updated_at",
}

// loadFakeConfig reads and checks the configuration file at path.
func loadFakeConfig(path string) (nextidentitytest.Options, error) {
	f, err := os.Open(path)
	if err != nil {
		return nextidentitytest.Options{}, fmt.Errorf("nextidentity: config: %w", err)
	}
	defer f.Close()
	return parseFakeConfig(f)
}

// parseFakeConfig decodes a configuration and turns it into Options, with
// the defaults filled in. Unknown fields are errors, so a typo does not
// silently fall back to a default.
func parseFakeConfig(r io.Reader) (nextidentitytest.Options, error) {
	var opts nextidentitytest.Options
	b, err := httpx.ReadAll(r, maxConfigBytes)
	if err != nil {
		return opts, fmt.Errorf("nextidentity: config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var cfg fakeConfig
	if err := dec.Decode(&cfg); err != nil {
		return opts, fmt.Errorf("nextidentity: config: %w", err)
	}
	if dec.More() {
		return opts, errors.New("nextidentity: config: more than one JSON value")
	}
	return cfg.options()
}

// options checks cfg and converts it.
func (cfg *fakeConfig) options() (nextidentitytest.Options, error) {
	opts := nextidentitytest.Options{
		SigningAlg:            cfg.SigningAlg,
		IssuerTrailingSlash:   cfg.IssuerTrailingSlash,
		AccessTokenAudience:   cfg.AccessTokenAudience,
		EnvID:                 cfg.EnvID,
		ExistingInviteeStatus: cfg.ExistingInviteeStatus,

		RevokeRefreshFamilyOnReuse: cfg.RevokeRefreshFamilyOnReuse,
	}
	switch cfg.ExistingInviteeStatus {
	case 0, 200, 422:
	default:
		return opts, fmt.Errorf("nextidentity: config: existing_invitee_status %d: want 200 or 422", cfg.ExistingInviteeStatus)
	}
	if opts.SigningAlg == "" {
		opts.SigningAlg = "RS256"
	}
	if !slices.Contains([]string{"RS256", "ES256", "HS256"}, opts.SigningAlg) {
		return opts, fmt.Errorf("nextidentity: config: signing_alg %q: want RS256, ES256 or HS256", cfg.SigningAlg)
	}
	if cfg.IDTokenLifetime != "" {
		d, err := time.ParseDuration(cfg.IDTokenLifetime)
		if err != nil || d <= 0 {
			return opts, fmt.Errorf("nextidentity: config: id_token_lifetime %q: want a positive duration such as \"1h\"", cfg.IDTokenLifetime)
		}
		opts.IDTokenLifetime = d
	}

	ids := map[string]bool{}
	for i, c := range cfg.Clients {
		where := fmt.Sprintf("clients[%d]", i)
		if c.ID == "" {
			return opts, fmt.Errorf("nextidentity: config: %s: client_id is empty", where)
		}
		if ids[c.ID] {
			return opts, fmt.Errorf("nextidentity: config: %s: duplicate client_id %q", where, c.ID)
		}
		ids[c.ID] = true
		if len(c.RedirectURIs) == 0 && c.Secret == "" {
			return opts, fmt.Errorf("nextidentity: config: %s (%s): a public client needs redirect_uris", where, c.ID)
		}
		switch c.AccessTokenFormat {
		case "", nextidentitytest.AccessTokenOpaque, nextidentitytest.AccessTokenJWT:
		default:
			return opts, fmt.Errorf("nextidentity: config: %s (%s): access_token_format %q: want %q or %q",
				where, c.ID, c.AccessTokenFormat, nextidentitytest.AccessTokenOpaque, nextidentitytest.AccessTokenJWT)
		}
		switch c.Integration {
		case "", nextidentitytest.IntegrationHosted, nextidentitytest.IntegrationAPI, nextidentitytest.IntegrationBoth:
		default:
			return opts, fmt.Errorf("nextidentity: config: %s (%s): integration %q: want %q, %q or %q", where, c.ID, c.Integration,
				nextidentitytest.IntegrationHosted, nextidentitytest.IntegrationAPI, nextidentitytest.IntegrationBoth)
		}
		if c.RateLimit < 0 {
			return opts, fmt.Errorf("nextidentity: config: %s (%s): rate_limit %d: want 0 (none) or more", where, c.ID, c.RateLimit)
		}
		if c.BackChannelLogoutURI != "" {
			if err := absoluteURL(c.BackChannelLogoutURI); err != nil {
				return opts, fmt.Errorf("nextidentity: config: %s.backchannel_logout_uri: %w", where, err)
			}
		}
		for j, u := range c.RedirectURIs {
			if err := absoluteURL(u); err != nil {
				return opts, fmt.Errorf("nextidentity: config: %s.redirect_uris[%d]: %w", where, j, err)
			}
		}
		for j, u := range c.PostLogoutRedirectURIs {
			if err := absoluteURL(u); err != nil {
				return opts, fmt.Errorf("nextidentity: config: %s.post_logout_redirect_uris[%d]: %w", where, j, err)
			}
		}
		if opts.SigningAlg == "HS256" && c.Secret == "" {
			return opts, fmt.Errorf("nextidentity: config: %s (%s): signing_alg HS256 keys ID tokens with the client secret, and this client has none", where, c.ID)
		}
		opts.Clients = append(opts.Clients, nextidentitytest.Client{
			ID:                     c.ID,
			Secret:                 c.Secret,
			RedirectURIs:           c.RedirectURIs,
			PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
			Scopes:                 c.Scopes,
			AccessTokenFormat:      c.AccessTokenFormat,
			BackChannelLogoutURI:   c.BackChannelLogoutURI,
			Integration:            c.Integration,
			RateLimit:              c.RateLimit,
			Passwordless:           c.Passwordless,
			Privileged:             c.Privileged,
		})
	}
	if len(opts.Clients) == 0 {
		opts.Clients = []nextidentitytest.Client{nextidentitytest.DefaultClient()}
	}

	emails := map[string]bool{}
	for i, u := range cfg.Users {
		where := fmt.Sprintf("users[%d]", i)
		if u.Email == "" || u.Password == "" {
			return opts, fmt.Errorf("nextidentity: config: %s: email and password are required", where)
		}
		if emails[strings.ToLower(u.Email)] {
			return opts, fmt.Errorf("nextidentity: config: %s: duplicate email %q", where, u.Email)
		}
		emails[strings.ToLower(u.Email)] = true
		for name := range u.Claims {
			if slices.Contains(reservedClaims, name) {
				return opts, fmt.Errorf("nextidentity: config: %s.claims: %q is set by the provider or has its own field; it cannot be a custom claim", where, name)
			}
		}
		user := nextidentitytest.User{
			Subject:             u.Subject,
			Email:               u.Email,
			Password:            u.Password,
			EmailVerified:       u.EmailVerified,
			Name:                u.Name,
			GivenName:           u.GivenName,
			FamilyName:          u.FamilyName,
			PhoneNumber:         u.PhoneNumber,
			PhoneNumberVerified: u.PhoneNumberVerified,
			Locale:              u.Locale,
			Claims:              u.Claims,
			LegalAccepted:       u.LegalAccepted == nil || *u.LegalAccepted,
			DeniedClients:       u.DeniedClients,
			Profile:             u.Profile,
		}
		if u.UpdatedAt != nil {
			user.UpdatedAt = *u.UpdatedAt
		}
		opts.Users = append(opts.Users, user)
	}
	if len(opts.Users) == 0 {
		opts.Users = []nextidentitytest.User{nextidentitytest.DefaultUser()}
	}
	return opts, nil
}

// absoluteURL checks that s is an absolute URL without a fragment (a native
// app's custom scheme is fine).
func absoluteURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme == "" || (u.Host == "" && u.Opaque == "" && u.Path == "") || u.Fragment != "" {
		return fmt.Errorf("%q is not an absolute URL without a fragment", s)
	}
	return nil
}
