// Command docker-rke is the docker rke CLI plugin. Installed as
// ~/.docker/cli-plugins/docker-rke it runs as `docker rke`; it also runs
// standalone as `docker-rke`.
package main

import (
	"os"

	"github.com/docker-rke/docker-rke/dsl"
	"github.com/docker-rke/docker-rke/plugin"
)

// version is set at link time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	// A process started to evaluate one cluster script does only that.
	dsl.RunChildIfAsked()
	os.Exit(plugin.Main(os.Args, plugin.Options{
		Version: version,
		Stdin:   os.Stdin,
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
	}))
}
