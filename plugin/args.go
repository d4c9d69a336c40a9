package plugin

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	climeta "github.com/docker/cli/cli-plugins/metadata"
	cliflags "github.com/docker/cli/cli/flags"
	"github.com/spf13/pflag"
)

// pluginName is the subcommand the docker CLI puts after its global flags
// when it runs this plugin: `docker --context x rke up` becomes
// `docker-rke --context x rke up`.
const pluginName = "rke"

// kubectlPlugin is the name kubectl finds its plugins by on the PATH:
// `kubectl rke ls` runs `kubectl-rke ls`.
const kubectlPlugin = "kubectl-rke"

// Invocation is what the command line asks for, before anything runs.
type Invocation struct {
	// Metadata is set for the CLI's plugin handshake.
	Metadata bool
	// Standalone is set when the binary runs as docker-rke, not through
	// the docker CLI.
	Standalone bool
	// Kubectl is set when the binary runs as kubectl-rke: kubectl's
	// plugin, `kubectl rke ...`.
	Kubectl bool
	// Docker holds the docker CLI's global flags, parsed as the CLI does.
	Docker *cliflags.ClientOptions
	// Args are handed to the command tree (urfave/cli), without the
	// program name.
	Args []string
}

// ParseArgs reads argv (program name first) the way the docker CLI does:
// its global flags (--context, -H, --tls*, -D, -l, --config) come first and
// stop at the first non-flag argument; the rest belongs to the plugin.
// getenv is os.Getenv outside tests.
func ParseArgs(argv []string, getenv func(string) string) (*Invocation, error) {
	args := argv[1:]
	if len(args) > 0 && args[0] == climeta.MetadataSubcommandName {
		return &Invocation{Metadata: true}, nil
	}
	opts := cliflags.NewClientOptions()
	fs := pflag.NewFlagSet("docker", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SetInterspersed(false)
	opts.InstallFlags(fs)
	var help, version bool
	fs.BoolVarP(&help, "help", "h", false, "")
	// docker-rke --version, standalone, as help lists it.
	fs.BoolVarP(&version, "version", "v", false, "")
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("docker flags: %w", err)
	}
	opts.SetDefaultOptions(fs)
	if opts.Context != "" && len(opts.Hosts) > 0 {
		return nil, errors.New("conflicting options: cannot specify both --host and --context")
	}
	rest := fs.Args()
	inv := &Invocation{Docker: opts, Standalone: getenv(climeta.ReexecEnvvar) == "", Kubectl: filepath.Base(argv[0]) == kubectlPlugin}
	switch {
	case len(rest) > 0 && rest[0] == pluginName:
		// docker [flags] rke ARGS
		inv.Standalone = false
		rest = rest[1:]
	case len(rest) > 1 && rest[0] == "help" && rest[1] == pluginName:
		// docker help rke [COMMAND]
		inv.Standalone = false
		rest = append([]string{"help"}, rest[2:]...)
	}
	if help {
		rest = append([]string{"--help"}, rest...)
	}
	if version {
		rest = append([]string{"--version"}, rest...)
	}
	inv.Args = rest
	return inv, nil
}
