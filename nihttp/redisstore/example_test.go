package redisstore_test

import (
	"context"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nihttp"
	"github.com/oidc-kit/nextidentity/nihttp/redisstore"
)

// Sessions in Redis, shared by every instance of the application. With a
// Redis Cluster or Sentinel, pass redis.NewClusterClient,
// redis.NewFailoverClient or redis.NewUniversalClient instead.
func Example() {
	ctx := context.Background()
	opt, err := redis.ParseURL(os.Getenv("REDIS_URL")) // e.g. redis://localhost:6379/0
	if err != nil {
		log.Fatal(err)
	}
	opt.ContextTimeoutEnabled = true // calls end at the store's Timeout, with no goroutine each
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	store := redisstore.New(rdb, redisstore.Options{KeyPrefix: "myapp:"})

	client, err := nextidentity.New(ctx, nextidentity.Config{
		Issuer:       "https://id.example.com/",
		ClientID:     os.Getenv("CLIENT_ID"),
		ClientSecret: os.Getenv("CLIENT_SECRET"),
		RedirectURL:  "https://app.example.com/callback",
	})
	if err != nil {
		log.Fatal(err)
	}
	h, err := nihttp.New(nihttp.Config{
		Client: client,
		Keys:   [][]byte{[]byte(os.Getenv("SESSION_KEY"))}, // 32 bytes; seals the login state
		Store:  store,
	})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", h.Login)
	mux.HandleFunc("GET /callback", h.Callback)
	mux.HandleFunc("POST /logout", h.Logout)
	mux.Handle("GET /", h.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("Hello, " + nihttp.SessionFrom(r.Context()).Subject))
	})))
	log.Fatal(http.ListenAndServe(":8080", mux))
}

// A Store is also a nextidentity.ReplayCache shared by every instance, to
// act once on a workflow event the provider delivered twice.
func ExampleStore_FirstSeen() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer rdb.Close()
	var replay nextidentity.ReplayCache = redisstore.New(rdb, redisstore.Options{})

	first, err := replay.FirstSeen(context.Background(), "event-jti", 24*time.Hour)
	if err != nil {
		log.Print(err) // Redis is unreachable: answer 5xx so the provider retries
		return
	}
	if !first {
		return // a duplicate: already handled
	}
	// handle the event
}
