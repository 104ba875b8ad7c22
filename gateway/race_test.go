//go:build race

package gateway_test

// The race detector makes the process several times slower; timing tests
// ask for less load under it (see TestChaosLoadRun).
func init() { raceEnabled = true }
