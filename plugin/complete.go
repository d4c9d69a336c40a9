package plugin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/image"

	"github.com/spf13/cobra"
	"github.com/urfave/cli/v2"

	"github.com/docker-rke/docker-rke/dind"
	"github.com/docker-rke/docker-rke/images"
	"github.com/docker-rke/docker-rke/pki"
)

// Shell completion speaks cobra's protocol, the one the docker CLI uses
// for its plugins: `docker rke up sam<TAB>` runs
// `docker-rke __complete rke up sam`, and the plugin prints one candidate
// per line (a tab, then what it is), then a line ":N", N being cobra's
// directive bits for the shell. The standalone binary's scripts
// (`docker-rke completion bash|zsh|fish`, made by cobra) ask the same way,
// without the "rke".

// completeCmd is the request's first argument; cobra's scripts use the
// second when descriptions are off.
const (
	completeCmd       = cobra.ShellCompRequestCmd
	completeCmdNoDesc = cobra.ShellCompNoDescRequestCmd
)

// completion is the answer to one request.
type completion struct {
	candidates []string // "value" or "value\tdescription"
	directive  cobra.ShellCompDirective
}

func (c completion) write(w io.Writer, descriptions bool) {
	for _, s := range c.candidates {
		if !descriptions {
			s, _, _ = strings.Cut(s, "\t")
		}
		fmt.Fprintln(w, s)
	}
	fmt.Fprintf(w, ":%d\n", c.directive)
}

// names are what completion offers that only the engine knows.
type names interface {
	Clusters() []string
	Nodes(cluster string) []string
	Images() []string
}

// complete answers a completion request for the words after the program
// (and the docker CLI's "rke"), the last one being the word completed,
// from the command tree. It is pure given names.
func complete(app *cli.App, words []string, src names) completion {
	if len(words) == 0 {
		words = []string{""}
	}
	cur := words[len(words)-1]
	var cmd *cli.Command
	subs, flags := app.Commands, app.Flags
	var path, args []string
	values := map[string]string{}
	pending := "" // a flag waiting for its value
	for _, w := range words[:len(words)-1] {
		switch {
		case pending != "":
			values[pending], pending = w, ""
		case w == "--":
		case strings.HasPrefix(w, "-"):
			name, value, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
			if f := findFlag(flags, name); f != nil && takesValue(f) {
				if hasValue {
					values[f.Names()[0]] = value
				} else {
					pending = f.Names()[0]
				}
			}
		case len(args) == 0 && findCommand(subs, w) != nil:
			cmd = findCommand(subs, w)
			subs, flags = cmd.Subcommands, cmd.Flags
			path = append(path, cmd.Name)
		default:
			args = append(args, w)
		}
	}
	var out completion
	switch {
	case pending != "":
		out = flagValues(pending, values, args, src)
	case strings.HasPrefix(cur, "-"):
		out.directive = cobra.ShellCompDirectiveNoFileComp
		for _, f := range append(slices.Clone(flags), cli.HelpFlag) {
			for _, n := range f.Names() {
				dash := "--"
				if len(n) == 1 {
					dash = "-"
				}
				out.candidates = append(out.candidates, dash+n+"\t"+flagUsage(f))
			}
		}
	case len(subs) > 0 && len(args) == 0:
		out.directive = cobra.ShellCompDirectiveNoFileComp
		for _, c := range subs {
			if !c.Hidden {
				out.candidates = append(out.candidates, c.Name+"\t"+c.Usage)
			}
		}
		if cmd == nil {
			out.candidates = append(out.candidates, "help\tShows a list of commands or help for one command")
		}
	default:
		out = positional(strings.Join(path, " "), args, values, src)
	}
	if out.directive&(cobra.ShellCompDirectiveFilterFileExt|cobra.ShellCompDirectiveFilterDirs) == 0 {
		// (Those candidates are file name extensions for the shell.)
		out.candidates = slices.DeleteFunc(out.candidates, func(s string) bool { return !strings.HasPrefix(s, cur) })
	}
	return out
}

// positional completes the arguments of a command, by its path.
func positional(path string, args []string, values map[string]string, src names) completion {
	noFile := cobra.ShellCompDirectiveNoFileComp
	switch path {
	case "up", "plan":
		// A Go cluster script or a cluster.yml.
		return completion{candidates: []string{"go", "yml", "yaml"}, directive: cobra.ShellCompDirectiveFilterFileExt}
	case "rm", "stop", "start", "kubeconfig", "conformance":
		return completion{candidates: src.Clusters(), directive: noFile}
	case "logs":
		if len(args) == 0 {
			return completion{candidates: src.Clusters(), directive: noFile}
		}
		return completion{candidates: logComponents(), directive: noFile}
	case "load":
		return completion{candidates: src.Images(), directive: noFile}
	case "etcd snapshot restore":
		return completion{} // a snapshot's name, or a file
	}
	return completion{directive: noFile}
}

// flagValues completes a flag's value.
func flagValues(flag string, values map[string]string, args []string, src names) completion {
	noFile := cobra.ShellCompDirectiveNoFileComp
	switch flag {
	case "cluster":
		return completion{candidates: src.Clusters(), directive: noFile}
	case "node":
		cluster := values["cluster"]
		if cluster == "" && len(args) > 0 {
			cluster = args[0] // logs CLUSTER -n NODE
		}
		return completion{candidates: src.Nodes(cluster), directive: noFile}
	case "kubernetes-version":
		return completion{candidates: images.KubernetesVersions(), directive: noFile}
	case "service":
		return completion{candidates: pki.RotatableServices(), directive: noFile}
	case "format":
		return completion{candidates: []string{"json", "yaml", "table", "wide"}, directive: noFile}
	case "kubeconfig-dir", "report-dir":
		return completion{directive: cobra.ShellCompDirectiveFilterDirs}
	case "output", "archive", "json-timings", "kubeconfig":
		return completion{} // a file
	}
	return completion{directive: noFile}
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name || slices.Contains(c.Aliases, name) {
			return c
		}
	}
	return nil
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	d, ok := f.(cli.DocGenerationFlag)
	return ok && d.TakesValue()
}

func flagUsage(f cli.Flag) string {
	if d, ok := f.(cli.DocGenerationFlag); ok {
		return d.GetUsage()
	}
	return ""
}

// engineNames are the names the engine of the current context knows; a
// failure means no candidates, never an error in the middle of a shell
// line.
type engineNames struct {
	ctx context.Context
	a   *App
}

func (n engineNames) list() []dind.ClusterInfo {
	clusters, _ := n.a.newEngine(quietLog{}).List(n.ctx)
	return clusters
}

func (n engineNames) Clusters() []string {
	var out []string
	for _, c := range n.list() {
		out = append(out, c.Name)
	}
	return out
}

func (n engineNames) Nodes(cluster string) []string {
	var out []string
	for _, c := range n.list() {
		if c.Name == cluster || cluster == "" {
			for _, node := range c.NodeList {
				out = append(out, node.Name+"\t"+c.Name+", "+node.Roles)
			}
		}
	}
	return out
}

func (n engineNames) Images() []string {
	list, _ := n.a.Docker.Client().ImageList(n.ctx, image.ListOptions{})
	var out []string
	for _, img := range list {
		for _, tag := range img.RepoTags {
			if !strings.Contains(tag, "<none>") {
				out = append(out, tag)
			}
		}
	}
	slices.Sort(out)
	return out
}

// quietLog drops an engine's progress lines.
type quietLog struct{}

func (quietLog) Printf(string, ...any) {}

// runComplete answers the request in args (its first word is completeCmd
// or completeCmdNoDesc).
func (a *App) runComplete(ctx context.Context, args []string) {
	words := args[1:]
	if len(words) > 0 && words[0] == pluginName {
		words = words[1:] // from the docker CLI
	}
	complete(a.commands(), words, engineNames{ctx, a}).write(a.Stdout, args[0] == completeCmd)
}

// completionCommand writes the standalone binary's completion script,
// cobra's, which asks `docker-rke __complete` as the docker CLI does.
func (a *App) completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "Write the shell completion script of the standalone docker-rke (docker's own completion covers docker rke)",
		ArgsUsage: "bash|zsh|fish",
		Description: "For bash: docker-rke completion bash > /etc/bash_completion.d/docker-rke\n" +
			"For zsh:  docker-rke completion zsh > \"${fpath[1]}/_docker-rke\"\n" +
			"For fish: docker-rke completion fish > ~/.config/fish/completions/docker-rke.fish",
		Action: func(c *cli.Context) error {
			root := &cobra.Command{Use: "docker-rke"}
			switch c.Args().First() {
			case "bash":
				return root.GenBashCompletionV2(a.Stdout, true)
			case "zsh":
				return root.GenZshCompletion(a.Stdout)
			case "fish":
				return root.GenFishCompletion(a.Stdout, true)
			}
			return cli.Exit("completion needs a shell: bash, zsh or fish", 2)
		},
	}
}
