package plugin

import (
	"os"
	"testing"

	"github.com/docker-rke/docker-rke/dsl"
)

// TestMain lets this test binary evaluate scripts as EvalScript's child
// process.
func TestMain(m *testing.M) {
	dsl.RunChildIfAsked()
	os.Exit(m.Run())
}
