package plugin

import (
	"reflect"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestInterspersed(t *testing.T) {
	app := &cli.App{Commands: []*cli.Command{{
		Name: "plan",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}},
		},
	}, {
		Name: "images",
		Subcommands: []*cli.Command{{
			Name:  "build",
			Flags: []cli.Flag{&cli.StringFlag{Name: "kubernetes-version"}},
		}},
	}}}
	tests := []struct{ in, want []string }{
		{[]string{"p", "plan", "f.go", "--format", "json"}, []string{"p", "plan", "--format", "json", "f.go"}},
		{[]string{"p", "plan", "f.go", "-f=json", "-q"}, []string{"p", "plan", "-f=json", "-q", "f.go"}},
		{[]string{"p", "plan", "-q", "f.go", "g.go"}, []string{"p", "plan", "-q", "f.go", "g.go"}},
		{[]string{"p", "plan", "f.go", "--", "-weird.go"}, []string{"p", "plan", "f.go", "--", "-weird.go"}},
		{[]string{"p", "unknown", "x", "--y"}, []string{"p", "unknown", "x", "--y"}},
		{[]string{"p", "--help"}, []string{"p", "--help"}},
		{[]string{"p", "images", "build", "--kubernetes-version", "v1"}, []string{"p", "images", "build", "--kubernetes-version", "v1"}},
		{[]string{"p", "images", "build", "node", "--kubernetes-version", "v1"}, []string{"p", "images", "build", "--kubernetes-version", "v1", "node"}},
	}
	for _, tt := range tests {
		if got := interspersed(app, tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("interspersed(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
