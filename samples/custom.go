// custom: every setting a cluster script can make.
package main

import (
	"fmt"
	"strings"

	"rke"
)

func main() {
	c := rke.NewCluster("lab").
		KubernetesVersion("v1.37.2").
		PodCIDR("10.60.0.0/16").
		ServiceCIDR("10.61.0.0/16").
		ClusterDomain("lab.local").
		ExtraArgs(rke.KubeAPIServer, map[string]string{"v": "2"})

	c.Node("lab-cp1", rke.ControlPlane, rke.Etcd).
		Taint("node-role.kubernetes.io/controlplane=true:NoSchedule")
	for _, zone := range []string{"a", "b"} {
		c.Node(fmt.Sprintf("lab-worker-%s", zone), rke.Worker).
			Label("topology.kubernetes.io/zone", "zone-"+strings.ToUpper(zone)).
			Label("disk", "ssd")
	}
}
