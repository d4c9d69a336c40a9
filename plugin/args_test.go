package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	climeta "github.com/docker/cli/cli-plugins/metadata"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/context/docker"
	"github.com/docker/cli/cli/context/store"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

var viaDocker = env(map[string]string{climeta.ReexecEnvvar: "docker"})

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name       string
		argv       []string
		getenv     func(string) string
		metadata   bool
		standalone bool
		context    string
		hosts      []string
		debug      bool
		args       []string
	}{
		{name: "metadata", argv: []string{"docker-rke", "docker-cli-plugin-metadata"}, getenv: noEnv, metadata: true},
		{name: "plugin", argv: []string{"docker-rke", "rke", "plan", "f.go"}, getenv: viaDocker, args: []string{"plan", "f.go"}},
		{name: "context", argv: []string{"docker-rke", "--context", "x", "rke", "plan", "f.go"}, getenv: viaDocker, context: "x", args: []string{"plan", "f.go"}},
		{name: "context short", argv: []string{"docker-rke", "-c", "x", "rke", "plan", "f.go"}, getenv: viaDocker, context: "x", args: []string{"plan", "f.go"}},
		{name: "host", argv: []string{"docker-rke", "-H", "unix:///x", "rke", "ls"}, getenv: viaDocker, hosts: []string{"unix:///x"}, args: []string{"ls"}},
		{name: "debug and log level", argv: []string{"docker-rke", "-D", "-l", "warn", "rke", "ls"}, getenv: viaDocker, debug: true, args: []string{"ls"}},
		{name: "help rke", argv: []string{"docker-rke", "help", "rke"}, getenv: viaDocker, args: []string{"help"}},
		{name: "help rke plan", argv: []string{"docker-rke", "help", "rke", "plan"}, getenv: viaDocker, args: []string{"help", "plan"}},
		{name: "rke --help", argv: []string{"docker-rke", "rke", "--help"}, getenv: viaDocker, args: []string{"--help"}},
		{name: "flags after the command belong to it", argv: []string{"docker-rke", "rke", "plan", "-H", "f.go"}, getenv: viaDocker, args: []string{"plan", "-H", "f.go"}},
		{name: "standalone", argv: []string{"docker-rke", "plan", "f.go"}, getenv: noEnv, standalone: true, args: []string{"plan", "f.go"}},
		{name: "standalone with docker flags", argv: []string{"docker-rke", "--context", "x", "plan", "f.go"}, getenv: noEnv, standalone: true, context: "x", args: []string{"plan", "f.go"}},
		{name: "standalone --help", argv: []string{"docker-rke", "--help"}, getenv: noEnv, standalone: true, args: []string{"--help"}},
		{name: "standalone --version", argv: []string{"docker-rke", "--version"}, getenv: noEnv, standalone: true, args: []string{"--version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := ParseArgs(tt.argv, tt.getenv)
			if err != nil {
				t.Fatal(err)
			}
			if inv.Metadata != tt.metadata {
				t.Fatalf("Metadata = %v, want %v", inv.Metadata, tt.metadata)
			}
			if tt.metadata {
				return
			}
			if inv.Standalone != tt.standalone {
				t.Errorf("Standalone = %v, want %v", inv.Standalone, tt.standalone)
			}
			if inv.Docker.Context != tt.context {
				t.Errorf("Context = %q, want %q", inv.Docker.Context, tt.context)
			}
			if !reflect.DeepEqual(inv.Docker.Hosts, tt.hosts) && !(len(inv.Docker.Hosts) == 0 && len(tt.hosts) == 0) {
				t.Errorf("Hosts = %q, want %q", inv.Docker.Hosts, tt.hosts)
			}
			if inv.Docker.Debug != tt.debug {
				t.Errorf("Debug = %v, want %v", inv.Docker.Debug, tt.debug)
			}
			if !reflect.DeepEqual(inv.Args, tt.args) && !(len(inv.Args) == 0 && len(tt.args) == 0) {
				t.Errorf("Args = %q, want %q", inv.Args, tt.args)
			}
		})
	}
}

func TestParseArgsRejectsContextWithHost(t *testing.T) {
	_, err := ParseArgs([]string{"docker-rke", "--context", "x", "-H", "unix:///y", "rke", "ls"}, viaDocker)
	if err == nil || !strings.Contains(err.Error(), "conflicting options") {
		t.Fatalf("err = %v, want conflicting options", err)
	}
}

func TestMetadata(t *testing.T) {
	var stdout, stderr bytes.Buffer
	// DOCKER_HOST points nowhere: answering must not need a daemon.
	t.Setenv("DOCKER_HOST", "tcp://192.0.2.1:1")
	code := Run(context.Background(), []string{"docker-rke", "docker-cli-plugin-metadata"}, Options{Version: "v9.9.9", Stdout: &stdout, Stderr: &stderr, Getenv: noEnv})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var m climeta.Metadata
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
		t.Fatalf("metadata is not JSON: %v\n%s", err, stdout.String())
	}
	if m.SchemaVersion != "0.1.0" || m.Vendor == "" || m.Version != "v9.9.9" || m.ShortDescription == "" || m.URL == "" {
		t.Errorf("incomplete metadata: %+v", m)
	}
}

// TestEndpointResolution checks that the one DockerCli resolves its
// endpoint in docker's order: --context, -H or DOCKER_HOST, DOCKER_CONTEXT,
// then the config file's current context.
func TestEndpointResolution(t *testing.T) {
	cfgDir := t.TempDir()
	writeConfig(t, cfgDir, `{"currentContext": "fromconfig"}`)
	for name, host := range map[string]string{"fromflag": "unix:///flag.sock", "fromenv": "unix:///env.sock", "fromconfig": "unix:///config.sock"} {
		createContext(t, cfgDir, name, host)
	}
	tests := []struct {
		name        string
		argv        []string
		env         map[string]string
		wantContext string
		wantHost    string
	}{
		{"config current context", []string{"docker-rke", "rke", "ls"}, nil, "fromconfig", "unix:///config.sock"},
		{"DOCKER_CONTEXT beats config", []string{"docker-rke", "rke", "ls"}, map[string]string{"DOCKER_CONTEXT": "fromenv"}, "fromenv", "unix:///env.sock"},
		{"DOCKER_HOST beats DOCKER_CONTEXT", []string{"docker-rke", "rke", "ls"}, map[string]string{"DOCKER_CONTEXT": "fromenv", "DOCKER_HOST": "unix:///host-env.sock"}, "default", "unix:///host-env.sock"},
		{"-H beats DOCKER_HOST", []string{"docker-rke", "-H", "unix:///x", "rke", "ls"}, map[string]string{"DOCKER_HOST": "unix:///host-env.sock"}, "default", "unix:///x"},
		{"--context beats everything", []string{"docker-rke", "--context", "fromflag", "rke", "ls"}, map[string]string{"DOCKER_CONTEXT": "fromenv", "DOCKER_HOST": "unix:///host-env.sock"}, "fromflag", "unix:///flag.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"DOCKER_CONTEXT", "DOCKER_HOST"} {
				t.Setenv(k, tt.env[k])
			}
			// --config is a docker global flag too; it points the CLI at
			// this test's config file and context store.
			argv := append([]string{tt.argv[0], "--config", cfgDir}, tt.argv[1:]...)
			inv, err := ParseArgs(argv, viaDocker)
			if err != nil {
				t.Fatal(err)
			}
			cli, err := newDockerCli(inv, Options{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
			if err != nil {
				t.Fatal(err)
			}
			if got := cli.CurrentContext(); got != tt.wantContext {
				t.Errorf("context = %q, want %q", got, tt.wantContext)
			}
			if got := cli.DockerEndpoint().Host; got != tt.wantHost {
				t.Errorf("host = %q, want %q", got, tt.wantHost)
			}
		})
	}
}

func writeConfig(t *testing.T, dir, content string) {
	t.Helper()
	if err := writeFile(filepath.Join(dir, "config.json"), content); err != nil {
		t.Fatal(err)
	}
}

func createContext(t *testing.T, cfgDir, name, host string) {
	t.Helper()
	s := store.New(filepath.Join(cfgDir, "contexts"), command.DefaultContextStoreConfig())
	err := s.CreateOrUpdate(store.Metadata{
		Name:      name,
		Metadata:  command.DockerContext{Description: "test"},
		Endpoints: map[string]any{docker.DockerEndpoint: docker.EndpointMeta{Host: host}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

// TestEarlyUsageErrors: conformance's conflicting choices and a --format
// of up that does not parse are usage errors (exit 2, one line), found
// before anything talks to an engine (up would otherwise find a bad
// template with its nodes made).
func TestEarlyUsageErrors(t *testing.T) {
	t.Setenv("DOCKER_HOST", "tcp://192.0.2.1:1")
	for _, args := range [][]string{
		{"conformance", "--smoke", "--serial", "c1"},
		{"conformance", "--smoke", "--focus", "DNS", "c1"},
		{"conformance", "c1", "c2"},
		{"conformance", "--focus", "(DNS", "c1"},
		{"up", "--format", "{{.Node", "samples/cluster1.go"},
		{"up", "--format", "table {{.Node", "samples/cluster1.go"},
	} {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), append([]string{"docker-rke"}, args...), Options{Stdout: &stdout, Stderr: &stderr, Getenv: noEnv})
		if code != 2 || strings.Count(strings.TrimSpace(stderr.String()), "\n") > 1 {
			t.Errorf("%q: exit %d, want 2 and a short message:\n%s", args, code, stderr.String())
		}
	}
}
