package nextidentitytest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// fault is a pending injected failure for one endpoint.
type fault struct {
	n      int
	status int
	body   string
}

// FailNext makes the next n requests to e answer status with body instead of
// being handled. The Content-Type is application/json when body is a JSON
// object or array, text/html otherwise. A later call replaces an earlier one;
// n <= 0 cancels the injection. Failed requests still count in Requests.
func (s *Server) FailNext(e Endpoint, n int, status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.faults, e)
		return
	}
	s.faults[e] = &fault{n: n, status: status, body: body}
}

// SetLatency delays every response of e by d; d <= 0 removes the delay. A
// delayed request is abandoned, without a response, as soon as the client
// goes away (its context ends) or the server is closed.
func (s *Server) SetLatency(e Endpoint, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		delete(s.latency, e)
		return
	}
	s.latency[e] = d
}

// Requests reports how many requests e has received, including requests that
// were failed by FailNext or abandoned during SetLatency's delay.
func (s *Server) Requests(e Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[e]
}

// route registers h for e behind the counting, fault and latency layer.
func (s *Server) route(mux *http.ServeMux, e Endpoint, h http.HandlerFunc) {
	mux.Handle(string(e), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Count and decide on an injected fault atomically on arrival, so
		// concurrent requests see FailNext's n exactly.
		s.mu.Lock()
		s.counts[e]++
		delay := s.latency[e]
		var f *fault
		if cur := s.faults[e]; cur != nil {
			copied := *cur
			f = &copied
			if cur.n--; cur.n <= 0 {
				delete(s.faults, e)
			}
		}
		s.mu.Unlock()

		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				panic(http.ErrAbortHandler) // the client is gone: no response
			case <-s.closed:
				t.Stop()
				panic(http.ErrAbortHandler) // drop the connection without a response
			}
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if f != nil {
			ct := "text/html; charset=utf-8"
			if looksLikeJSON(f.body) {
				ct = "application/json"
			}
			w.Header().Set("Content-Type", ct)
			w.Header().Set("Content-Length", strconv.Itoa(len(f.body)))
			w.WriteHeader(f.status)
			_, _ = w.Write([]byte(f.body))
			return
		}
		h(w, r)
	}))
}

func looksLikeJSON(body string) bool {
	b := bytes.TrimSpace([]byte(body))
	return len(b) > 0 && (b[0] == '{' || b[0] == '[') && json.Valid(b)
}

// writeJSON writes v as a JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeRawJSON(w, status, string(b))
}

// writeRawJSON writes body verbatim as a JSON response with status.
func writeRawJSON(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// The provider's fixed error bodies.
const (
	bodyInvalidRequest = `{"stat":"error","error":"invalid_request"}`
	bodyUnauthorized   = `{"error":"http_exception","error_details":{"message":"Unauthorized"}}`
)

// oauthError is an RFC 6749 error response body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}
