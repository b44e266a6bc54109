//go:build wasip1

// Command testguest is a guest for the CLI's own tests: it exercises what
// `wasitls run` wires up besides TLS (arguments, environment, mounts, exit
// codes, timeouts).
//
//	testguest env NAME            print the value of NAME
//	testguest cat FILE            print FILE
//	testguest write FILE TEXT     create FILE with TEXT (fails on a read-only mount)
//	testguest exit N              exit with code N
//	testguest spin                print "spinning", loop until the host stops it
//	testguest alloc MIB           allocate and touch MIB MiB, print "ok"
//
// Failures print "error: ..." and exit 1.
package main

import (
	"fmt"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) < 2 {
		fail("want a command")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "env":
		need(args, 1)
		v, ok := os.LookupEnv(args[0])
		if !ok {
			fail(args[0] + " is not set")
		}
		fmt.Println(v)
	case "cat":
		need(args, 1)
		b, err := os.ReadFile(args[0])
		if err != nil {
			fail(err.Error())
		}
		os.Stdout.Write(b)
	case "write":
		need(args, 2)
		if err := os.WriteFile(args[0], []byte(args[1]), 0o644); err != nil {
			fail(err.Error())
		}
	case "exit":
		need(args, 1)
		n, err := strconv.Atoi(args[0])
		if err != nil {
			fail(err.Error())
		}
		os.Exit(n)
	case "alloc":
		need(args, 1)
		n, err := strconv.Atoi(args[0])
		if err != nil {
			fail(err.Error())
		}
		var keep [][]byte
		for i := 0; i < n; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			keep = append(keep, b)
		}
		fmt.Println("ok", len(keep))
	case "spin":
		fmt.Println("spinning") // tests wait for this before they signal
		for i := 0; ; i++ {
			if i < 0 {
				fmt.Println("wrapped") // keeps the loop from being optimised away
			}
		}
	default:
		fail("unknown command " + os.Args[1])
	}
}

func need(args []string, n int) {
	if len(args) != n {
		fail(fmt.Sprintf("want %d arguments", n))
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "error: "+msg)
	os.Exit(1)
}
