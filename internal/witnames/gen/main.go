// Command gen writes internal/witnames/names_gen.go from the project's wit/
// tree: a constant per interface and per function of every interface the
// host serves, and the parameter names of each function as a core import
// (flattened by the canonical ABI: a string is name-ptr, name-len; a method
// starts with self; a result that does not fit one core value adds
// ret-ptr).
//
//	go run ./internal/witnames/gen [-wit wit] [-o internal/witnames/names_gen.go]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/wasitls/wasitls/internal/witnames/witparse"
)

func main() {
	wit := flag.String("wit", "wit", "the wit/ directory")
	out := flag.String("o", "internal/witnames/names_gen.go", "the file to write")
	flag.Parse()
	src, err := witparse.Generate(*wit)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
