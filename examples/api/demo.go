package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"golang.org/x/oauth2"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// runDemo plays two back-end services calling the API: each gets its tokens
// with the client credentials grant through a token source, which caches
// the token and renews it before it expires, and sends them with an
// oauth2 HTTP client.
func runDemo(ctx context.Context, provider *nextidentitytest.Server, base string, out io.Writer) error {
	syncHTTP, closeSync, err := serviceHTTPClient(ctx, provider, syncClientID, "orders:read", "orders:write")
	if err != nil {
		return err
	}
	defer closeSync()
	reportHTTP, closeReport, err := serviceHTTPClient(ctx, provider, reportClientID, "orders:read")
	if err != nil {
		return err
	}
	defer closeReport()

	steps := []struct {
		who    string
		client *http.Client
		method string
		body   string
	}{
		{syncClientID, syncHTTP, http.MethodPost, `{"item":"coffee beans"}`},
		{syncClientID, syncHTTP, http.MethodGet, ""},
		{reportClientID, reportHTTP, http.MethodGet, ""},
		{reportClientID + " (no orders:write)", reportHTTP, http.MethodPost, `{"item":"tea"}`},
		{"anonymous (no token)", http.DefaultClient, http.MethodGet, ""},
	}
	for _, s := range steps {
		req, err := http.NewRequestWithContext(ctx, s.method, base+"/orders", strings.NewReader(s.body))
		if err != nil {
			return err
		}
		if s.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := s.client.Do(req)
		if err != nil {
			return fmt.Errorf("%s %s /orders: %w", s.who, s.method, err)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: %s /orders -> %s\n", s.who, s.method, resp.Status)
		if h := resp.Header.Get("WWW-Authenticate"); h != "" {
			fmt.Fprintf(out, "    WWW-Authenticate: %s\n", h)
		}
		fmt.Fprintf(out, "    %s\n", strings.TrimSpace(string(b)))
	}
	return nil
}

// serviceHTTPClient is an HTTP client that sends clientID's client
// credentials tokens for scopes.
func serviceHTTPClient(ctx context.Context, provider *nextidentitytest.Server, clientID string, scopes ...string) (*http.Client, func(), error) {
	c, err := nextidentity.New(ctx, provider.ClientConfig(clientID))
	if err != nil {
		return nil, nil, err
	}
	ts := c.ClientCredentialsTokenSource(ctx, scopes...)
	return oauth2.NewClient(ctx, ts), func() { _ = c.Close() }, nil
}
