// Package plugin is the command line of docker rke: the docker CLI plugin
// protocol, the docker CLI's global flags, the one DockerCli every command
// shares, and the command tree (urfave/cli).
package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/docker/cli/cli-plugins/socket"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/command/formatter"
	"github.com/docker/cli/templates"
	"github.com/fatih/color"
	"github.com/urfave/cli/v2"
	"github.com/xrash/smetrics"

	"github.com/docker-rke/docker-rke/dind"
	metadata "github.com/docker-rke/docker-rke/docker-cli-plugin-metadata"
	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/model"
)

// Options configure one run of the command line.
type Options struct {
	Version string
	Stdin   io.ReadCloser
	Stdout  io.Writer
	Stderr  io.Writer
	Getenv  func(string) string
}

// App is what every command receives: the streams and the one DockerCli,
// created once from the global flags and passed down.
type App struct {
	Docker  *command.DockerCli
	Stdout  io.Writer
	Stderr  io.Writer
	Version string
	Invoked *Invocation
	// debug, with docker's -D, hears of every call to an engine.
	debug dind.Logger
}

// newEngine returns an Engine over the one DockerCli's client, logging
// to log, and with -D every call to a node's engine too.
func (a *App) newEngine(log dind.Logger) *dind.Engine {
	e := dind.NewEngine(a.Docker.Client(), log)
	if a.debug != nil {
		e.Debug(a.debug)
	}
	return e
}

// Main runs the command line and returns the process exit status. A first
// Ctrl-C (or SIGTERM, or the docker CLI closing its plugin socket) cancels
// the context so that commands clean up; a second one exits at once.
func Main(argv []string, opts Options) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; !ok {
			return
		}
		fmt.Fprintln(opts.Stderr, "Interrupted: cleaning up (press Ctrl-C again to exit now)")
		cancel()
		if _, ok := <-sigs; ok {
			os.Exit(130)
		}
	}()
	// The docker CLI tells a plugin to stop by closing this socket.
	socket.ConnectAndWait(cancel)
	return Run(ctx, argv, opts)
}

// Run is Main without process-wide signal handling, for tests.
func Run(ctx context.Context, argv []string, opts Options) int {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	inv, err := ParseArgs(argv, opts.Getenv)
	if err != nil {
		printError(opts.Stderr, err)
		return 2
	}
	if inv.Metadata {
		if err := metadata.Write(opts.Stdout, opts.Version); err != nil {
			printError(opts.Stderr, err)
			return 1
		}
		return 0
	}
	dockerCli, err := newDockerCli(inv, opts)
	if err != nil {
		printError(opts.Stderr, err)
		return 1
	}
	app := &App{Docker: dockerCli, Stdout: opts.Stdout, Stderr: opts.Stderr, Version: opts.Version, Invoked: inv}
	if inv.Docker.Debug {
		// docker's -D: every call to an engine, with its time.
		app.debug = newStepLog(opts.Stderr)
		if err := command.WithAPIClient(dind.DebugClient(dockerCli.Client(), app.debug, "engine"))(dockerCli); err != nil {
			printError(opts.Stderr, err)
			return 1
		}
	}
	if len(inv.Args) > 0 && (inv.Args[0] == completeCmd || inv.Args[0] == completeCmdNoDesc) {
		app.runComplete(ctx, inv.Args)
		return 0
	}
	cmds := app.commands()
	if err := cmds.RunContext(ctx, interspersed(cmds, append([]string{app.name()}, inv.Args...))); err != nil {
		var exit cli.ExitCoder
		if errors.As(err, &exit) {
			if msg := err.Error(); msg != "" {
				printError(opts.Stderr, err)
			}
			return exit.ExitCode()
		}
		printError(opts.Stderr, err)
		return 1
	}
	return 0
}

// newDockerCli creates the one DockerCli of a run. Initialize resolves the
// endpoint in docker's order (--context, -H or DOCKER_HOST, DOCKER_CONTEXT,
// then the config's current context) without contacting the daemon.
func newDockerCli(inv *Invocation, opts Options) (*command.DockerCli, error) {
	in := opts.Stdin
	if in == nil {
		in = io.NopCloser(nilReader{})
	}
	dockerCli, err := command.NewDockerCli(
		command.WithInputStream(in),
		command.WithOutputStream(opts.Stdout),
		command.WithErrorStream(opts.Stderr),
	)
	if err != nil {
		return nil, fmt.Errorf("docker CLI: %w", err)
	}
	if err := dockerCli.Initialize(inv.Docker); err != nil {
		return nil, fmt.Errorf("docker CLI: %w", err)
	}
	return dockerCli, nil
}

type nilReader struct{}

func (nilReader) Read([]byte) (int, error) { return 0, io.EOF }

func (a *App) name() string {
	if a.Invoked.Kubectl {
		return "kubectl rke"
	}
	if a.Invoked.Standalone {
		return "docker-rke"
	}
	return "docker rke"
}

func (a *App) commands() *cli.App {
	app := a.commandTree()
	usageErrors(app)
	return app
}

// usageErrors makes every usage error docker's kind: an unknown flag or
// command is one line on stderr, naming it and where help is, with exit
// status 2, and nothing on stdout (urfave/cli prints the whole help to
// stdout for a flag, and exits 3 for a command).
func usageErrors(app *cli.App) {
	app.OnUsageError = onUsageError
	app.Action = unknownCommand
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			c.OnUsageError = onUsageError
			if len(c.Subcommands) > 0 && c.Action == nil {
				c.Action = unknownCommand
			}
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
}

func onUsageError(c *cli.Context, err error, _ bool) error {
	msg := err.Error()
	if flag, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		dash := "--"
		if len(flag) == 1 {
			dash = "-"
		}
		msg = "unknown flag: " + dash + flag
		var names []string
		for _, f := range c.Command.Flags {
			names = append(names, f.Names()...)
		}
		if s := closest(flag, names); s != "" {
			dash = "--"
			if len(s) == 1 {
				dash = "-"
			}
			msg += "; did you mean " + dash + s + "?"
		}
	}
	return cli.Exit(fmt.Sprintf("%s\nSee '%s --help'.", msg, helpName(c)), 2)
}

// unknownCommand is the action of the root and of command groups: help
// without an argument, else an unknown command, with the nearest one.
func unknownCommand(c *cli.Context) error {
	if !c.Args().Present() {
		return cli.ShowSubcommandHelp(c)
	}
	cmds := c.App.Commands
	if c.Command != nil && len(c.Command.Subcommands) > 0 {
		cmds = c.Command.Subcommands
	}
	var names []string
	for _, cmd := range cmds {
		names = append(names, cmd.Names()...)
	}
	msg := fmt.Sprintf("unknown command %q for %q", c.Args().First(), helpName(c))
	if s := closest(c.Args().First(), names); s != "" {
		msg += "; did you mean " + s + "?"
	}
	return cli.Exit(fmt.Sprintf("%s\nSee '%s --help'.", msg, helpName(c)), 2)
}

// closest is the name nearest to a mistyped one (Jaro-Winkler, as
// urfave/cli's own suggestions), or "" when none is near.
func closest(typed string, names []string) string {
	best, score := "", 0.85
	for _, n := range names {
		if d := smetrics.JaroWinkler(typed, n, 0.7, 4); d > score {
			best, score = n, d
		}
	}
	return best
}

func helpName(c *cli.Context) string {
	if c.Command != nil && c.Command.HelpName != "" {
		return c.Command.HelpName
	}
	return c.App.Name
}

func (a *App) commandTree() *cli.App {
	return &cli.App{
		Name:    a.name(),
		Usage:   metadata.ShortDescription,
		Version: a.Version,
		Description: "Clusters are defined in Go cluster scripts or RKE cluster.yml files.\n" +
			"Docker's global flags (--context, -H, --tls*, -D, -l, --config) go before\n" +
			"the command, as with docker: docker --context remote rke plan cluster.go",
		Writer:          a.Stdout,
		ErrWriter:       a.Stderr,
		HideHelpCommand: false,
		// Errors are printed once, by Run.
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			a.planCommand(),
			a.upCommand(),
			a.lsCommand(),
			a.rmCommand(),
			a.stopCommand(),
			a.startCommand(),
			a.loadCommand(),
			a.kubeconfigCommand(),
			a.logsCommand(),
			a.etcdCommand(),
			a.certCommand(),
			a.imagesCommand(),
			a.versionCommand(),
			a.doctorCommand(),
			a.conformanceCommand(),
			a.completionCommand(),
		},
	}
}

func (a *App) versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "Show the version of docker rke and the Kubernetes versions it builds",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: `"json" or a Go template of the whole (fields: Version, Releases), or "table" or "table TEMPLATE" of the releases, one a row (fields: ` + releaseFields + `)`},
		},
		Action: func(c *cli.Context) error {
			v := struct {
				Version  string
				Releases []images.Release
			}{a.Version, images.Releases()}
			// A table lists rows: the releases, the default first.
			rows := make([]*releaseRow, len(v.Releases))
			for i, r := range v.Releases {
				rows[i] = &releaseRow{r: r}
			}
			switch format := c.String("format"); {
			case format == "":
			case format == formatter.TableFormatKey || strings.HasPrefix(format, formatter.TableFormatKey+" "):
				return writeFormatted(a.Stdout, format, releaseTable, "", false, releaseHeader(), rows)
			case format == formatter.JSONFormatKey:
				return json.NewEncoder(a.Stdout).Encode(v)
			default:
				tmpl, err := templates.Parse(format)
				if err != nil {
					return cli.Exit(fmt.Sprintf("--format: %v", err), 2)
				}
				if err := tmpl.Execute(a.Stdout, v); err != nil {
					return cli.Exit(fmt.Sprintf("--format: %v", err), 2)
				}
				fmt.Fprintln(a.Stdout)
				return nil
			}
			fmt.Fprintf(a.Stdout, "docker rke %s\n\nKubernetes releases it builds (the first is the default):\n", a.Version)
			return writeFormatted(a.Stdout, formatter.TableFormatKey, releaseTable, "", false, releaseHeader(), rows)
		},
	}
}

// printError prints an error for people: every line of a multi-problem
// error on its own line, "Error:" in red where colour is on.
func printError(w io.Writer, err error) {
	red := paint(w, color.FgRed, color.Bold)
	var invalid *model.InvalidError
	if errors.As(err, &invalid) && len(invalid.Problems) > 1 {
		red.Fprintf(w, "Error:")
		fmt.Fprintf(w, " %d problems in the cluster definition:\n", len(invalid.Problems))
		for _, p := range invalid.Problems {
			fmt.Fprintf(w, "  %s\n", p.Error())
		}
		return
	}
	red.Fprintf(w, "Error:")
	fmt.Fprintf(w, " %v\n", err)
}

// printWarnings prints the warnings of a definition, one line each.
func printWarnings(w io.Writer, warnings model.Problems) {
	yellow := paint(w, color.FgYellow)
	for _, p := range warnings {
		yellow.Fprintf(w, "Warning:")
		fmt.Fprintf(w, " %s\n", p.Error())
	}
}
