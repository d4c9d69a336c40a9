package dsl

import (
	"os"
	"testing"
)

// TestMain lets this test binary evaluate scripts as EvalScript's child
// process.
func TestMain(m *testing.M) {
	RunChildIfAsked()
	os.Exit(m.Run())
}
