package nextidentitytest_test

import (
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

func TestOptionsListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := nextidentitytest.NewServer(nextidentitytest.Options{Listener: ln})
	want := "http://" + ln.Addr().String()
	require.Equal(t, want, srv.URL)
	require.Equal(t, want, srv.Issuer())

	resp, err := srv.HTTPClient().Get(want + string(nextidentitytest.EndpointDiscovery))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	srv.Close()
	_, err = net.Dial("tcp", ln.Addr().String())
	require.Error(t, err, "Close must close the listener it was given")
}
