// Package must holds the one assertion edgegw's tests share: a step whose
// failure leaves nothing to test.
package must

import "testing"

// NoError ends the test t with err when err is not nil.
func NoError(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
