// Package e2e runs the built docker-rke binary the way users do: as a
// docker CLI plugin through the real docker client, and against a real
// Docker engine. `go test -short` skips it.
package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker-rke/docker-rke/dsl"
)

// env is what every test shares: the built plugin and a docker config
// directory with the plugin installed.
type env struct {
	binary    string // the docker-rke binary
	configDir string // a DOCKER_CONFIG with cli-plugins/docker-rke
	repo      string // the repository root
}

var shared env

func TestMain(m *testing.M) {
	// The tests read cluster scripts, in child processes of this binary.
	dsl.RunChildIfAsked()
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode")
		os.Exit(0)
	}
	code, err := setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		os.Exit(1)
	}
	os.Exit(code(m))
}

func setup() (func(*testing.M) int, error) {
	repo, err := filepath.Abs("..")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "docker-rke-e2e-")
	if err != nil {
		return nil, err
	}
	plugins := filepath.Join(dir, "config", "cli-plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		return nil, err
	}
	binary := filepath.Join(plugins, "docker-rke")
	// The Makefile passes a prebuilt binary so the build is not repeated.
	if prebuilt := os.Getenv("DOCKER_RKE_BINARY"); prebuilt != "" {
		data, err := os.ReadFile(prebuilt)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(binary, data, 0o755); err != nil {
			return nil, err
		}
	} else {
		cmd := exec.Command("go", "build", "-o", binary, ".")
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	shared = env{binary: binary, configDir: filepath.Join(dir, "config"), repo: repo}
	// Build every image of every release once (cached after the first
	// time), before tests that start nodes in parallel.
	build := exec.Command(binary, "images", "build", "--all")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("building the images: %w", err)
	}
	// And the default release's conformance suite, for its smoke subset.
	suite := exec.Command(binary, "images", "build", "--e2e")
	suite.Stdout, suite.Stderr = os.Stdout, os.Stderr
	if err := suite.Run(); err != nil {
		return nil, fmt.Errorf("building the conformance suite: %w", err)
	}
	return func(m *testing.M) int {
		defer os.RemoveAll(dir)
		before, err := volumeNames()
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		code := m.Run()
		// Nothing a test or the tool made may outlive it: an anonymous
		// volume (an image's VOLUME /var in a helper container removed
		// without its volumes) has no cluster label for the tests'
		// checks to find.
		after, err := volumeNames()
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		var left []string
		for _, v := range after {
			if !slices.Contains(before, v) {
				left = append(left, v)
			}
		}
		if len(left) > 0 {
			fmt.Fprintf(os.Stderr, "e2e: FAIL: the tests left %d volumes behind: %s\n", len(left), strings.Join(left, " "))
			return 1
		}
		return code
	}, nil
}

// volumeNames lists the engine's volumes.
func volumeNames() ([]string, error) {
	out, err := exec.Command("docker", "volume", "ls", "-q").Output()
	if err != nil {
		return nil, fmt.Errorf("docker volume ls: %w", err)
	}
	return strings.Fields(string(out)), nil
}

// result is a finished command.
type result struct {
	stdout, stderr string
	code           int
}

// docker runs the real docker CLI with the test's config directory, so
// `docker rke ...` runs the plugin under test.
func docker(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, "docker", append([]string{"--config", shared.configDir}, args...)...)
}

func run(t *testing.T, name string, args ...string) result {
	t.Helper()
	return runEnv(t, nil, name, args...)
}

// runEnv runs a command with extra environment variables.
func runEnv(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = shared.repo
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s %v: %v", name, args, err)
		}
		code = ee.ExitCode()
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}
