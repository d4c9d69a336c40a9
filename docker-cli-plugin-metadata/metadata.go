// Package metadata answers the docker CLI's plugin handshake: the CLI runs
// `docker-rke docker-cli-plugin-metadata` and reads JSON from stdout to list
// the plugin in `docker help` and `docker info`. Answering never touches a
// daemon: the CLI does this for every plugin on every `docker help`.
package metadata

import (
	"encoding/json"
	"io"

	climeta "github.com/docker/cli/cli-plugins/metadata"
)

// Subcommand is the argument the docker CLI passes to ask for metadata.
const Subcommand = climeta.MetadataSubcommandName

// ShortDescription is shown by `docker help` next to the plugin's name.
const ShortDescription = "Run multi-node Kubernetes clusters in Docker, RKE-style"

// For returns the plugin's metadata for a version string.
func For(version string) climeta.Metadata {
	return climeta.Metadata{
		SchemaVersion:    "0.1.0",
		Vendor:           "docker rke",
		Version:          version,
		ShortDescription: ShortDescription,
		URL:              "https://github.com/docker-rke/docker-rke",
	}
}

// Write prints the metadata as the CLI expects it.
func Write(w io.Writer, version string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "     ")
	return enc.Encode(For(version))
}
