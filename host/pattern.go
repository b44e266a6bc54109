package host

// CheckPattern reports whether s is a destination pattern the host accepts
// (see Policy), for callers that check a policy before using it.
func CheckPattern(s string) error {
	_, err := parsePattern(s)
	return err
}
