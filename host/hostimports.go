package host

import "github.com/wasitls/wasitls/internal/hostimports"

// The tests and checks outside this package read the import table through
// internal/hostimports, so that it is not part of host's API.
func init() {
	hostimports.Publish(hostimports.Table{ImportNames: importNames, Functions: functions, Signature: signature})
}
