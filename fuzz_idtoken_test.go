package nextidentity

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzVerifyIDToken verifies arbitrary strings.
func FuzzVerifyIDToken(f *testing.F) {
	env := newFuzzEnv(f, nil)
	for _, raw := range env.freshTokens(f) {
		f.Add(raw, true)
		f.Add(raw[:len(raw)-2]+"AA", true)
	}
	_, files := seedFiles(f, "testdata/idtokens/*.jwt")
	for _, b := range files {
		f.Add(strings.TrimSpace(string(b)), true)
		f.Add(strings.TrimSpace(string(b)), false)
	}
	for _, s := range []string{"", ".", "..", "a.b.c", "e30.e30.", ".e30.e30", "e30.."} {
		f.Add(s, false)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string, checkNonce bool) {
		nonce := ""
		if checkNonce {
			nonce = fuzzNonce
		}
		tok, err := env.c.VerifyIDToken(ctx, raw, nonce)
		env.checkVerify(t, raw, nonce, tok, err)
	})
}

// FuzzVerifyIDTokenSegments mutates the decoded header and payload of valid
// tokens and signs the result again, so that the claim checks behind the
// signature are reached. signer picks the key: the client secret (HS* as the
// header asks, else HS256), the provider's EC, Ed25519, RSA or RSA-PSS key,
// a stale signature, or none.
func FuzzVerifyIDTokenSegments(f *testing.F) {
	env := newFuzzEnv(f, nil)
	strict := base64.RawURLEncoding.Strict()
	addSplit := func(raw string, signer uint8) {
		parts := strings.Split(strings.TrimSpace(raw), ".")
		if len(parts) != 3 {
			return
		}
		h, err1 := strict.DecodeString(parts[0])
		p, err2 := strict.DecodeString(parts[1])
		if err1 == nil && err2 == nil {
			f.Add(h, p, signer, true)
		}
	}
	for i, raw := range env.freshTokens(f) {
		addSplit(raw, []uint8{12, 13, 6, 9, 7, 0, 1}[i])
	}
	_, files := seedFiles(f, "testdata/idtokens/*.jwt")
	for _, b := range files {
		addSplit(string(b), 0)
		addSplit(string(b), 14)
	}
	stale := strings.Split(env.freshTokens(f)[0], ".")[2]
	staleSig, err := strict.DecodeString(stale)
	require.NoError(f, err)

	ctx := context.Background()
	f.Fuzz(func(t *testing.T, header, payload []byte, signer uint8, checkNonce bool) {
		input := strict.EncodeToString(header) + "." + strict.EncodeToString(payload)
		sig := env.sign(t, signer, header, input, staleSig)
		raw := input + "." + strict.EncodeToString(sig)
		nonce := ""
		if checkNonce {
			nonce = fuzzNonce
		}
		tok, err := env.c.VerifyIDToken(ctx, raw, nonce)
		env.checkVerify(t, raw, nonce, tok, err)
	})
}
