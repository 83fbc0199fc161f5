package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// order is one order of the example API.
type order struct {
	ID        string `json:"id"`
	Item      string `json:"item"`
	CreatedBy string `json:"created_by"` // the client_id of the caller
}

// api is a small orders API protected by bearer access tokens:
// GET /orders needs the scope orders:read, POST /orders orders:write.
type api struct {
	mu     sync.Mutex
	orders []order
}

// routes returns the API's handler. Every route checks the caller's access
// token with c (whose Config.Audience names this API); refusals are logged
// with their reason, which the response never shows.
func (a *api) routes(c *nextidentity.Client, log *slog.Logger) http.Handler {
	onError := func(r *http.Request, status int, err error) {
		log.Info("request refused", "method", r.Method, "path", r.URL.Path, "status", status, "reason", err)
	}
	need := func(scope string) func(http.Handler) http.Handler {
		return nihttp.RequireBearerWith(c, nihttp.BearerOptions{Scopes: []string{scope}, OnError: onError})
	}
	mux := http.NewServeMux()
	mux.Handle("GET /orders", need("orders:read")(http.HandlerFunc(a.list)))
	mux.Handle("POST /orders", need("orders:write")(http.HandlerFunc(a.create)))
	return mux
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	at := nihttp.AccessTokenFrom(r.Context())
	a.mu.Lock()
	orders := append([]order{}, a.orders...)
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"caller": at.ClientID, "scopes": at.Scopes, "orders": orders})
}

func (a *api) create(w http.ResponseWriter, r *http.Request) {
	at := nihttp.AccessTokenFrom(r.Context())
	var in struct {
		Item string `json:"item"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&in); err != nil || in.Item == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `send {"item": "..."}`})
		return
	}
	a.mu.Lock()
	o := order{ID: strconv.Itoa(len(a.orders) + 1), Item: in.Item, CreatedBy: at.ClientID}
	a.orders = append(a.orders, o)
	a.mu.Unlock()
	writeJSON(w, http.StatusCreated, o)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
