package main

import "strconv"

// row returns the expected content of row i (1-based); the guest inserts
// these and the host-side test checks the server's copy against them.
func row(i int) (id int32, name string, val int64) {
	v := int64(i) * int64(i) % 1000003
	return int32(i), "row-" + strconv.Itoa(i), v*1000 + int64(i%7)
}
