package main

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nihttp"
	"github.com/oidc-kit/nextidentity/nihttp/redisstore"
)

// protectedApp is the app protected in process by nihttp.RequireLogin, as
// a Go web app would use the library: sessions in sealed cookies, or in the
// Redis server NIBENCH_REDIS names.
func protectedApp(ctx context.Context, addr string, key []byte) (http.Handler, error) {
	client, err := nextidentity.New(ctx, nextidentity.Config{
		Issuer:       os.Getenv("NIBENCH_ISSUER"),
		ClientID:     os.Getenv("NIBENCH_CLIENT_ID"),
		ClientSecret: os.Getenv("NIBENCH_CLIENT_SECRET"),
		RedirectURL:  "http://" + addr + "/callback",
	})
	if err != nil {
		return nil, err
	}
	cfg := nihttp.Config{Client: client, Keys: [][]byte{key}}
	if raddr := os.Getenv("NIBENCH_REDIS"); raddr != "" {
		cfg.Store = redisstore.New(redis.NewClient(&redis.Options{Addr: raddr}), redisstore.Options{KeyPrefix: "nibench:"})
	}
	auth, err := nihttp.New(cfg)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", auth.Login)
	mux.HandleFunc("GET /callback", auth.Callback)
	mux.Handle("GET /{$}", auth.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "hello %s\n", nihttp.SessionFrom(r.Context()).Token.IDToken.Email)
	})))
	return mux, nil
}
