// Package fakecore is the core the project's two fake providers share: the
// public nextidentitytest package (the provider apps test against) and
// internal/testprovider (the hostile provider of the library's own tests).
// It holds the endpoint paths, the documented example values, JWK encoding,
// JWS signing, at_hash and key generation, so that the two fakes cannot
// drift apart.
package fakecore

import "time"

// Endpoint paths of the provider, relative to the issuer's host.
const (
	PathDiscovery       = "/.well-known/openid-configuration"
	PathJWKS            = "/jwks"
	PathAuthorize       = "/authorize"
	PathLogin           = "/login" // the hosted forms' POST target
	PathToken           = "/token"
	PathUserInfo        = "/userinfo"
	PathEndSession      = "/endsession"
	PathRegister        = "/register"
	PathPersonalDetails = "/personal-details"

	// The API integration: JSON endpoints under PathAccount and PathOTP,
	// the Adopt API, and the hosted screens its messages link to.
	PathAccount        = "/idp/v1/account"
	PathOTP            = "/idp/v1/otp"
	PathAdoptRegister  = "/idp/v1/applications/register"
	PathActivate       = "/activate"
	PathForgotPassword = "/forgot-password"
	PathResetPassword  = "/reset-password"
	PathVerifyAccount  = "/verify-account"
)

// Values from the provider's documented examples.
const (
	// DefaultSubject is the "sub" of the documented example ID token.
	DefaultSubject = "b30647ef-7f03-4ce1-ae91-9476e49d0605"
	// UpdatedAtLayout is the time layout of the provider's "updated_at"
	// claim, e.g. "2021-01-07 20:44:35.176625 +0000".
	UpdatedAtLayout = "2006-01-02 15:04:05.000000 -0700"
	// ExampleAccessToken and ExampleRefreshToken have the documented
	// formats: 16 and 20 lowercase alphanumerics.
	ExampleAccessToken  = "rb5bzkygqs5ahevp"
	ExampleRefreshToken = "h4zakujpack6qtfbyy8r"
)

// DefaultUpdatedAt is the "updated_at" of the documented example.
var DefaultUpdatedAt = time.Date(2021, 1, 7, 20, 44, 35, 176625000, time.UTC)

// FormatUpdatedAt formats t as the provider formats "updated_at", in UTC.
func FormatUpdatedAt(t time.Time) string { return t.UTC().Format(UpdatedAtLayout) }
