// Command witsrc prints the repository's wit/ tree as the one WIT source jco
// reads, with the world wasitls:check/guest (see package witsrc); with
// -component restated at WASI 0.2.12, for componentNew with jco's real
// preview1 adapter (witsrc.ForComponents):
//
//	go run ./internal/witsrc/cmd/witsrc [-component] [WIT_DIR] > all.wit
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/wasitls/wasitls/internal/witsrc"
)

func main() {
	component := flag.Bool("component", false, "restate the WIT at WASI 0.2.12, for jco's real preview1 adapter")
	flag.Parse()
	dir := "wit"
	if flag.NArg() > 0 {
		dir = flag.Arg(0)
	}
	src, err := witsrc.Source(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "witsrc:", err)
		os.Exit(1)
	}
	if *component {
		src = witsrc.ForComponents(src)
	}
	fmt.Print(src)
}
