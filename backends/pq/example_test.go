package pq_test

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"

	"github.com/wasitls/wasitls/api"
	"github.com/wasitls/wasitls/backends/pq"
	"github.com/wasitls/wasitls/backends/pq/pqproof"
)

// A P-256-only hybrid policy for one connection, through the options a host
// passes per guest.
func ExampleProvider_Client() {
	tcp, err := net.Dial("tcp", "db.internal:5433")
	if err != nil {
		return
	}
	defer tcp.Close()
	p, _ := api.Lookup(pq.Name)
	conn, err := p.Client(context.Background(), tcp, &api.Config{
		ServerName: "db.internal",
		Options:    map[string]string{"groups": "SecP256r1MLKEM768"},
	})
	if errors.Is(err, api.ErrPQRequired) {
		fmt.Println("the server offers no SecP256r1MLKEM768")
		return
	}
	if err == nil {
		fmt.Println(conn.State().GroupName())
	}
}

// Pinning a server's ML-DSA-65 key: the operator gives the server the private
// key (the server calls pqproof.Prove after its handshake) and the client the pin.
func ExampleWithMLDSAPins() {
	pub, _, err := mldsa65.GenerateKey(nil)
	if err != nil {
		return
	}
	pin, err := pqproof.PinOf(pub)
	if err != nil {
		return
	}
	p, err := pq.New(pq.WithName("pq-db"), pq.WithMLDSAPins("db.internal", pin))
	if err != nil {
		return
	}
	api.Register(p)
	fmt.Println(p.Name())
	// Output: pq-db
}
