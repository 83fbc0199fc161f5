package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testCLI is a cli with captured output and a map for the environment.
type testCLI struct {
	*cli
	out, errOut *syncBuffer
}

func newTestCLI(env map[string]string, stdin string) *testCLI {
	out, errOut := &syncBuffer{}, &syncBuffer{}
	c := newCLI(func(k string) string { return env[k] }, strings.NewReader(stdin), out, errOut)
	return &testCLI{cli: c, out: out, errOut: errOut}
}

// runCmd runs the command with args and returns its status and output.
func runCmd(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	c := newTestCLI(env, stdin)
	code = c.run(t.Context(), args)
	return code, c.out.String(), c.errOut.String()
}

// newFake starts a fake provider closed at the end of the test.
func newFake(t *testing.T, opts nextidentitytest.Options) *nextidentitytest.Server {
	t.Helper()
	srv := nextidentitytest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

// tenantEnv is the environment naming srv's first client.
func tenantEnv(srv *nextidentitytest.Server) map[string]string {
	cfg := srv.Config()
	return map[string]string{
		envIssuer:       cfg.Issuer,
		envClientID:     cfg.ClientID,
		envClientSecret: cfg.ClientSecret,
		envRedirectURL:  cfg.RedirectURL,
	}
}

// signIn runs a whole sign-in of the default user with the library and
// returns the verified token.
func signIn(t *testing.T, srv *nextidentitytest.Server) *nextidentity.Token {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	client, err := nextidentity.New(ctx, srv.Config())
	require.NoError(t, err)
	defer client.Close()
	req, err := client.AuthCodeURL()
	require.NoError(t, err)
	q, err := srv.Login(ctx, req.URL, nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	require.NoError(t, err)
	tok, err := client.Exchange(ctx, q, req)
	require.NoError(t, err)
	return tok
}

// readLine reads one line from r.
func readLine(t *testing.T, r io.Reader) string {
	t.Helper()
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := r.Read(b)
		if n == 1 {
			if b[0] == '\n' {
				return string(line)
			}
			line = append(line, b[0])
		}
		require.NoError(t, err, "reading a line; got %q so far", line)
	}
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
