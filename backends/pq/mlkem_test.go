package pq

import (
	"bytes"
	"crypto/mlkem"
	"crypto/rand"
	"testing"

	"github.com/cloudflare/circl/kem/mlkem/mlkem1024"
	"github.com/cloudflare/circl/kem/mlkem/mlkem768"
)

// TestMLKEMCrossCheck checks the ML-KEM inside the hybrid groups (Go's
// crypto/mlkem) against an independent implementation, circl's: the same
// seed gives the same key, and each side decapsulates the other's
// encapsulation to the same shared secret. A corrupted ciphertext gives a
// different secret (implicit rejection), so the comparison can fail.
func TestMLKEMCrossCheck(t *testing.T) {
	t.Run("ML-KEM-768", func(t *testing.T) {
		seed := make([]byte, mlkem.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			t.Fatal(err)
		}
		std, err := mlkem.NewDecapsulationKey768(seed)
		if err != nil {
			t.Fatal(err)
		}
		cpk, csk := mlkem768.NewKeyFromSeed(seed)
		cpkBytes, _ := cpk.MarshalBinary()
		if !bytes.Equal(cpkBytes, std.EncapsulationKey().Bytes()) {
			t.Fatal("the same seed gives different encapsulation keys")
		}
		sch := mlkem768.Scheme()

		// circl encapsulates to the stdlib key; the stdlib decapsulates.
		pk, err := sch.UnmarshalBinaryPublicKey(std.EncapsulationKey().Bytes())
		if err != nil {
			t.Fatal(err)
		}
		ct, ss, err := sch.Encapsulate(pk)
		if err != nil {
			t.Fatal(err)
		}
		got, err := std.Decapsulate(ct)
		if err != nil || !bytes.Equal(got, ss) {
			t.Fatalf("stdlib decapsulation of circl's ciphertext: %v", err)
		}
		ct[0] ^= 1
		if bad, _ := std.Decapsulate(ct); bytes.Equal(bad, ss) {
			t.Fatal("a corrupted ciphertext gave the same secret")
		}

		// The stdlib encapsulates to a fresh circl key; circl decapsulates.
		cpk2, csk2, err := sch.GenerateKeyPair()
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := cpk2.MarshalBinary()
		ek, err := mlkem.NewEncapsulationKey768(raw)
		if err != nil {
			t.Fatal(err)
		}
		ss2, ct2 := ek.Encapsulate()
		got2, err := sch.Decapsulate(csk2, ct2)
		if err != nil || !bytes.Equal(got2, ss2) {
			t.Fatalf("circl decapsulation of the stdlib's ciphertext: %v", err)
		}
		// And the seed-derived circl key decapsulates a stdlib encapsulation to std's key.
		ss3, ct3 := std.EncapsulationKey().Encapsulate()
		got3, err := sch.Decapsulate(csk, ct3)
		if err != nil || !bytes.Equal(got3, ss3) {
			t.Fatalf("seed-derived circl key: %v", err)
		}
	})
	t.Run("ML-KEM-1024", func(t *testing.T) {
		std, err := mlkem.GenerateKey1024()
		if err != nil {
			t.Fatal(err)
		}
		sch := mlkem1024.Scheme()
		pk, err := sch.UnmarshalBinaryPublicKey(std.EncapsulationKey().Bytes())
		if err != nil {
			t.Fatal(err)
		}
		ct, ss, err := sch.Encapsulate(pk)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := std.Decapsulate(ct); err != nil || !bytes.Equal(got, ss) {
			t.Fatalf("stdlib decapsulation of circl's ciphertext: %v", err)
		}
		cpk, csk, err := sch.GenerateKeyPair()
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := cpk.MarshalBinary()
		ek, err := mlkem.NewEncapsulationKey1024(raw)
		if err != nil {
			t.Fatal(err)
		}
		ss2, ct2 := ek.Encapsulate()
		if got, err := sch.Decapsulate(csk, ct2); err != nil || !bytes.Equal(got, ss2) {
			t.Fatalf("circl decapsulation of the stdlib's ciphertext: %v", err)
		}
	})
}
