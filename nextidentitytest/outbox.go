package nextidentitytest

import (
	"crypto/rand"
	"math/big"
	"net/url"
	"slices"
	"sync"
	"time"
)

// MessageKind says what a Message is for.
type MessageKind string

// The kinds of message the fake provider sends.
const (
	// MessageVerification carries a verification PIN and link after
	// /register or /resend-verification.
	MessageVerification MessageKind = "verification"
	// MessageInvite carries an invite's activation link (/pre-register).
	MessageInvite MessageKind = "invite"
	// MessageForgotPassword carries a forgot-password PIN and link (API
	// /forgot-password) or, for the hosted journey, a link only.
	MessageForgotPassword MessageKind = "forgot-password"
	// MessageOTP carries a one-time sign-in code (/idp/v1/otp/send).
	MessageOTP MessageKind = "otp"
	// MessageAlreadyRegistered tells an existing user that someone tried to
	// register with their address (/register answers as for a new user).
	MessageAlreadyRegistered MessageKind = "already-registered"
)

// Message is an email or SMS the provider would have sent. The fake keeps
// them in an outbox instead (see Server.Outbox), so tests can read the PINs
// and follow the links as the user would.
type Message struct {
	// Kind is what the message is for.
	Kind MessageKind
	// AuthType is the channel: "email" or "sms".
	AuthType string
	// To is the email address or phone number it went to.
	To string
	// ClientID is the client whose call caused it.
	ClientID string
	// UUID is the user's uuid (the "sub" of their tokens).
	UUID string
	// PIN is the one-time code it carries ("" if none): six digits.
	PIN string
	// Link is the link it carries ("" if none): a hosted screen of this
	// server (activation, verification, hosted password reset) or, for an
	// API forgot-password, the app's redirect_uri with "code" (the PIN) and
	// "user_id".
	Link string
	// Text is the SMS text of a one-time code (/otp/send's "message" with
	// %code% replaced); empty otherwise.
	Text string
	// At is when it was sent, on the server's clock.
	At time.Time
}

// Outbox returns every message sent so far, oldest first.
func (s *Server) Outbox() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.acct.outbox)
}

// LastMessage returns the latest message sent to the email address or phone
// number to (compared as user IDs are: email case-insensitively, phone
// numbers without separators), and false if there is none.
func (s *Server) LastMessage(to string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.acct.outbox) - 1; i >= 0; i-- {
		m := s.acct.outbox[i]
		if normalizeUserID(m.AuthType, m.To) == normalizeUserID(m.AuthType, to) {
			return m, true
		}
	}
	return Message{}, false
}

// ClearOutbox forgets every message sent so far. Their PINs and links stay
// valid.
func (s *Server) ClearOutbox() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acct.outbox = nil
}

// sendLocked appends m to the outbox, stamped with now.
func (s *Server) sendLocked(m Message, now time.Time) {
	m.At = now
	s.acct.outbox = append(s.acct.outbox, m)
	s.hook.push(m)
}

// messageHook delivers messages to Options.OnMessage in order, on its own
// goroutine, so that a slow callback never holds the server's lock. A nil
// *messageHook (no OnMessage) does nothing.
type messageHook struct {
	fn    func(Message)
	mu    sync.Mutex
	queue []Message
	wake  chan struct{} // capacity 1: "the queue may have grown"
	stop  chan struct{}
	done  chan struct{}
}

func newMessageHook(fn func(Message)) *messageHook {
	if fn == nil {
		return nil
	}
	h := &messageHook{fn: fn, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go h.run()
	return h
}

func (h *messageHook) push(m Message) {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.queue = append(h.queue, m)
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *messageHook) run() {
	defer close(h.done)
	for {
		select {
		case <-h.wake:
			h.drain()
		case <-h.stop:
			h.drain()
			return
		}
	}
}

func (h *messageHook) drain() {
	for {
		h.mu.Lock()
		batch := h.queue
		h.queue = nil
		h.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		for _, m := range batch {
			h.fn(m)
		}
	}
}

// close delivers what is queued and stops the goroutine.
func (h *messageHook) close() {
	if h == nil {
		return
	}
	close(h.stop)
	<-h.done
}

// newPIN returns six random decimal digits.
func newPIN() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic("nextidentitytest: crypto/rand: " + err.Error())
	}
	s := n.String()
	for len(s) < 6 {
		s = "0" + s
	}
	return s
}

// setPINLocked replaces u's outstanding PIN for purpose with a new one.
func (s *Server) setPINLocked(sub string, purpose pinPurpose, clientID string, lifetime time.Duration, now time.Time) string {
	code := newPIN()
	s.acct.pins[sub+"/"+string(purpose)] = &pin{code: code, clientID: clientID, expires: now.Add(lifetime)}
	return code
}

// takePINLocked consumes sub's PIN for purpose if code matches it and it has
// not expired. A wrong code leaves the PIN in place.
func (s *Server) takePINLocked(sub string, purpose pinPurpose, code string, now time.Time) bool {
	key := sub + "/" + string(purpose)
	p := s.acct.pins[key]
	if p == nil || !now.Before(p.expires) {
		delete(s.acct.pins, key)
		return false
	}
	if !constantTimeEqual(p.code, code) {
		return false
	}
	delete(s.acct.pins, key)
	return true
}

// newLinkLocked stores a one-time link token and returns the link: the
// endpoint e of this server with ?token=. An older link of the same kind
// for the same user stops working.
func (s *Server) newLinkLocked(e Endpoint, l link, now time.Time) string {
	for t, o := range s.acct.links {
		if !now.Before(o.expires) || (o.kind == l.kind && o.sub == l.sub) {
			delete(s.acct.links, t)
		}
	}
	token := randomID()
	s.acct.links[token] = &l
	return s.URL + string(e) + "?" + url.Values{"token": {token}}.Encode()
}

// linkUserLocked returns the live link token of kind and the index of its
// user, or nil and -1.
func (s *Server) linkUserLocked(token string, kind linkKind, now time.Time) (*link, int) {
	l := s.linkLocked(token, kind, now)
	if l == nil {
		return nil, -1
	}
	i := s.userIndexLocked(l.sub)
	if i < 0 {
		return nil, -1
	}
	return l, i
}

// linkLocked returns the live link token of kind, or nil.
func (s *Server) linkLocked(token string, kind linkKind, now time.Time) *link {
	l := s.acct.links[token]
	if l == nil || l.kind != kind {
		return nil
	}
	if !now.Before(l.expires) {
		delete(s.acct.links, token)
		return nil
	}
	return l
}
