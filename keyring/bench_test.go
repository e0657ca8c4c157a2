package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"
)

// BenchmarkSeal is the envelope encryption of one 1 KiB value (a fresh data key, the value
// sealed under it, the data key wrapped under a cached KEK). Compare with
// BenchmarkBaselineAESGCM, one AES-256-GCM seal of the same value under a ready key.
func BenchmarkSeal(b *testing.B) {
	k := newKeyring(b)
	wrapped, _ := k.NewKEK("k")
	ctx := ctxFor("arn:aws:secretsmanager:us-east-1:111122223333:secret:x-abcdef", "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa")
	val := make([]byte, 1024)
	b.SetBytes(int64(len(val)))
	for b.Loop() {
		if _, err := k.Seal("k", wrapped, ctx, val); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen is the decryption of one 1 KiB envelope: what every GetSecretValue pays.
func BenchmarkOpen(b *testing.B) {
	k := newKeyring(b)
	wrapped, _ := k.NewKEK("k")
	ctx := ctxFor("arn:aws:secretsmanager:us-east-1:111122223333:secret:x-abcdef", "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa")
	env, _ := k.Seal("k", wrapped, ctx, make([]byte, 1024))
	b.SetBytes(1024)
	for b.Loop() {
		if _, err := k.Open(env, wrapped, ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaselineAESGCM is the floor: one AES-256-GCM seal of 1 KiB under a ready key.
func BenchmarkBaselineAESGCM(b *testing.B) {
	key := make([]byte, 32)
	rand.Read(key)
	block, _ := aes.NewCipher(key)
	a, _ := cipher.NewGCM(block)
	nonce := make([]byte, 12)
	val := make([]byte, 1024)
	out := make([]byte, 0, 1024+16)
	b.SetBytes(int64(len(val)))
	for b.Loop() {
		rand.Read(nonce)
		out = a.Seal(out[:0], nonce, val, nil)
	}
}
