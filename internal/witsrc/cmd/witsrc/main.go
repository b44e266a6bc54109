// Command witsrc prints the repository's wit/ tree as the one WIT source jco
// reads, with the world wasitls:check/guest (see package witsrc):
//
//	go run ./internal/witsrc/cmd/witsrc [WIT_DIR] > all.wit
package main

import (
	"fmt"
	"os"

	"github.com/wasitls/wasitls/internal/witsrc"
)

func main() {
	dir := "wit"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	src, err := witsrc.Source(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "witsrc:", err)
		os.Exit(1)
	}
	fmt.Print(src)
}
