package plugin

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

type fakeNames struct{}

func (fakeNames) Clusters() []string { return []string{"cluster1", "cluster2", "other"} }
func (fakeNames) Nodes(cluster string) []string {
	return []string{cluster + "-node1\t" + cluster, cluster + "-node2\t" + cluster}
}
func (fakeNames) Images() []string { return []string{"myapp:dev", "nginx:1"} }

func TestComplete(t *testing.T) {
	a := &App{Invoked: &Invocation{}}
	for _, tc := range []struct {
		words     string // space-separated; a trailing space completes an empty word
		want      string // candidates without descriptions, space-separated
		directive cobra.ShellCompDirective
	}{
		{"", "plan up ls rm stop start load kubeconfig logs etcd cert images version doctor conformance completion help", cobra.ShellCompDirectiveNoFileComp},
		{"s", "stop start", cobra.ShellCompDirectiveNoFileComp},
		{"up ", "go yml yaml", cobra.ShellCompDirectiveFilterFileExt},
		{"create sam", "go yml yaml", cobra.ShellCompDirectiveFilterFileExt},
		{"up --kube", "--kubeconfig-dir", cobra.ShellCompDirectiveNoFileComp},
		{"up --kubeconfig-dir ", "", cobra.ShellCompDirectiveFilterDirs},
		{"rm c", "cluster1 cluster2", cobra.ShellCompDirectiveNoFileComp},
		{"delete --all ", "cluster1 cluster2 other", cobra.ShellCompDirectiveNoFileComp},
		{"logs ", "cluster1 cluster2 other", cobra.ShellCompDirectiveNoFileComp},
		{"logs cluster1 kube-a", "kube-apiserver", cobra.ShellCompDirectiveNoFileComp},
		{"logs cluster1 -n ", "cluster1-node1 cluster1-node2", cobra.ShellCompDirectiveNoFileComp},
		{"load --cluster cluster2 --node ", "cluster2-node1 cluster2-node2", cobra.ShellCompDirectiveNoFileComp},
		{"load --cluster=other m", "myapp:dev", cobra.ShellCompDirectiveNoFileComp},
		{"etcd snapshot ", "save ls restore", cobra.ShellCompDirectiveNoFileComp},
		{"etcd snapshot save --cluster ", "cluster1 cluster2 other", cobra.ShellCompDirectiveNoFileComp},
		{"images build --kubernetes-version v1.36", "v1.36.3", cobra.ShellCompDirectiveNoFileComp},
		{"cert rotate --service kube-a", "kube-apiserver", cobra.ShellCompDirectiveNoFileComp},
		{"etcd snapshot restore ", "", cobra.ShellCompDirectiveDefault},
		{"version ", "", cobra.ShellCompDirectiveNoFileComp},
	} {
		words := strings.Split(tc.words, " ")
		got := complete(a.commands(), words, fakeNames{})
		var names []string
		for _, c := range got.candidates {
			n, _, _ := strings.Cut(c, "\t")
			names = append(names, n)
		}
		if strings.Join(names, " ") != tc.want || got.directive != tc.directive {
			t.Errorf("complete %q: %v :%d, want %q :%d", tc.words, names, got.directive, tc.want, tc.directive)
		}
	}
}

func TestCompletionWrite(t *testing.T) {
	var b strings.Builder
	completion{candidates: []string{"a\tthe a", "b"}, directive: cobra.ShellCompDirectiveNoFileComp}.write(&b, false)
	if b.String() != "a\nb\n:4\n" {
		t.Errorf("without descriptions: %q", b.String())
	}
}
