package plugin

import (
	"strings"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/docker-rke/docker-rke/pki"
)

// kubectlCluster is the cluster of kubectl's current context, when the
// binary runs as kubectl's plugin and that context is one docker rke
// merged (rke-NAME): kubectl's convention that commands act on the
// current context. "" otherwise.
func (a *App) kubectlCluster() string {
	if !a.Invoked.Kubectl {
		return ""
	}
	cfg, err := clientcmd.NewDefaultClientConfigLoadingRules().Load()
	if err != nil {
		return ""
	}
	prefix := strings.TrimSuffix(pki.ContextName("x"), "x")
	name, ok := strings.CutPrefix(cfg.CurrentContext, prefix)
	if !ok || name == "" {
		return ""
	}
	return name
}
