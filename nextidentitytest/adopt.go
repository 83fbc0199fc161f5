package nextidentitytest

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// The Adopt API's client registration (POST /idp/v1/applications/register),
// modelled by the provider on Dynamic Client Registration. The provider
// documents the request only, so the answers follow RFC 7591: 201 with
// client_id, client_secret (confidential clients), client_id_issued_at,
// client_secret_expires_at and the registered metadata; 400
// invalid_redirect_uri or invalid_client_metadata (section 3.2.2).

// configSchemes are the documented config_scheme values.
var configSchemes = []string{
	"email_password", "email_password_invite", "mobile_password", "mobile_password_invite",
	"mobile_OTP", "mobile_OTP_invite",
}

// appTypes are the app types the provider lists; "spa" and "mobile" get a
// public client (no secret).
var appTypes = []string{"web", "spa", "mobile", "machine-to-machine"}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// adoptClientIDLength is the length of the client IDs the Adopt API issues.
const adoptClientIDLength = 24

// handleAdoptRegister registers a client for a Privileged client
// authenticated with HTTP Basic. Body: {config_scheme,
// redirect_uri_allowlist (comma-separated), app_url?, app_link?,
// site_name?, property_id? (a UUID), app_type? ("web" by default)}. The new
// client is registered on the server at once.
func (s *Server) handleAdoptRegister(w http.ResponseWriter, r *http.Request) {
	if !requirePOST(w, r) || !s.checkEnv(w, r) {
		return
	}
	caller, ok := s.basicClient(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="nextidentity"`)
		apiUnauthorized(w)
		return
	}
	if !caller.Privileged {
		writeAPIError(w, http.StatusForbidden, "forbidden", "The client may not register clients.", nil)
		return
	}
	a, ok := readAPIRequest(w, r)
	if !ok {
		return
	}
	scheme := a.str("config_scheme", true)
	allow := a.str("redirect_uri_allowlist", true)
	appURL, appLink := a.str("app_url", false), a.str("app_link", false)
	siteName, propertyID := a.str("site_name", false), a.str("property_id", false)
	appType := a.str("app_type", false)
	if len(a.problems) > 0 {
		writeAPIError(w, http.StatusBadRequest, "invalid_client_metadata", "Invalid client metadata.", a.problems)
		return
	}
	metadataError := func(desc string) {
		writeAPIError(w, http.StatusBadRequest, "invalid_client_metadata", desc, nil)
	}
	if appType == "" {
		appType = "web"
	}
	switch {
	case !slices.Contains(configSchemes, scheme):
		metadataError("config_scheme must be one of " + strings.Join(configSchemes, ", ") + ".")
		return
	case !slices.Contains(appTypes, appType):
		metadataError("app_type must be one of " + strings.Join(appTypes, ", ") + ".")
		return
	case propertyID != "" && !uuidPattern.MatchString(propertyID):
		metadataError("property_id must be a UUID.")
		return
	}
	for _, u := range []string{appURL, appLink} {
		if u != "" && absoluteURI(u) != nil {
			metadataError("app_url and app_link must be absolute URLs.")
			return
		}
	}
	var uris []string
	for _, u := range strings.Split(allow, ",") {
		u = strings.TrimSpace(u)
		if absoluteURI(u) != nil {
			writeAPIError(w, http.StatusBadRequest, "invalid_redirect_uri", "Every redirect_uri_allowlist entry must be an absolute URI without a fragment.", nil)
			return
		}
		uris = append(uris, u)
	}

	c := Client{RedirectURIs: uris, Passwordless: strings.HasPrefix(scheme, "mobile_OTP")}
	if appType != "spa" && appType != "mobile" {
		c.Secret = randomToken(32)
	}
	s.mu.Lock()
	now := s.now()
	c.ID = randomToken(adoptClientIDLength)
	for s.clients[c.ID].ID != "" {
		c.ID = randomToken(adoptClientIDLength)
	}
	s.clients[c.ID] = c
	s.order = append(s.order, c.ID)
	s.mu.Unlock()

	resp := map[string]any{
		"client_id":                  c.ID,
		"client_id_issued_at":        now.Unix(),
		"redirect_uris":              uris,
		"config_scheme":              scheme,
		"app_type":                   appType,
		"token_endpoint_auth_method": "none",
	}
	if c.Secret != "" {
		resp["client_secret"] = c.Secret
		resp["client_secret_expires_at"] = 0
		resp["token_endpoint_auth_method"] = "client_secret_basic"
	}
	for k, v := range map[string]string{"app_url": appURL, "app_link": appLink, "site_name": siteName, "property_id": propertyID} {
		if v != "" {
			resp[k] = v
		}
	}
	writeJSON(w, http.StatusCreated, resp)
}

// basicClient authenticates r's HTTP Basic credentials as a confidential
// client (see basicClientLocked).
func (s *Server) basicClient(r *http.Request) (Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.basicClientLocked(r)
}

// absoluteURI checks that u is an absolute URI without a fragment (a
// native app's custom scheme is fine).
func absoluteURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme == "" || (u.Host == "" && u.Opaque == "" && u.Path == "") || u.Fragment != "" {
		return errors.New("not an absolute URI without a fragment")
	}
	return nil
}
