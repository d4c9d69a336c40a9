// Multi-call Kubernetes binary (hyperkube style) for k8s.io/kubernetes; the
// go.mod of each minor release (v1.NN/) pins which one.
// The component is chosen by argv[0] basename (symlinks) or by the first argument.
package main

import (
	"context"
	goflag "flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	_ "time/tzdata" // CronJob time zone support (apiserver, controller-manager)

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric

	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

var commands = map[string]func() *cobra.Command{
	"kube-apiserver":          func() *cobra.Command { return apiserver.NewAPIServerCommand() },
	"kube-controller-manager": func() *cobra.Command { return controllermanager.NewControllerManagerCommand() },
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
	"kubelet":                 func() *cobra.Command { return kubelet.NewKubeletCommand(context.Background()) },
	"kube-proxy": func() *cobra.Command {
		// kube-proxy adds Go's global flag set to its flags; in a multi-call binary that
		// set also holds cadvisor's flags (linked for the kubelet). Standalone kube-proxy
		// v1.37 has none of them, so give it an empty one.
		goflag.CommandLine = goflag.NewFlagSet(os.Args[0], goflag.ExitOnError)
		return proxy.NewProxyCommand()
	},
}

func usage() {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: %s <component> [flags]   (or invoke via a symlink named after the component)\ncomponents:\n", filepath.Base(os.Args[0]))
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %s\n", n)
	}
}

func main() {
	name := filepath.Base(os.Args[0])
	newCmd, ok := commands[name]
	if !ok {
		if len(os.Args) < 2 {
			usage()
			os.Exit(2)
		}
		name = os.Args[1]
		if newCmd, ok = commands[name]; !ok {
			if name == "-h" || name == "--help" || name == "help" {
				usage()
				os.Exit(0)
			}
			fmt.Fprintf(os.Stderr, "unknown component %q\n", name)
			usage()
			os.Exit(2)
		}
		// Shift so the component sees argv[0]=<component> and its own flags.
		os.Args = os.Args[1:]
	}
	command := newCmd()
	command.SetArgs(os.Args[1:])
	os.Exit(cli.Run(command))
}
