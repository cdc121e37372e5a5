// Command coredns is CoreDNS with only the plugins a lab cluster's Corefile
// uses: kubeadm's default Corefile (errors, health, ready, kubernetes,
// prometheus, forward, cache, loop, reload, loadbalance), the template block
// the harness adds for the emulated clouds (harness/coredns.go), and log,
// hosts and rewrite for debugging by hand.
//
// Upstream's main (coredns.go) imports core/plugin, which links every plugin
// and with them the AWS, Azure, Google Cloud, etcd and Datadog clients; leaving
// those out is most of what CoreDNS costs to build cold. This follows
// CoreDNS's documented way of building with a chosen plugin set (a main that
// imports coremain and the plugin packages); the plugin order stays upstream's
// (core/dnsserver/zdirectives.go), and a Corefile naming a plugin that is not
// linked fails to load with CoreDNS's own "unknown directive" error.
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/rewrite"
	_ "github.com/coredns/coredns/plugin/template"
)

func main() {
	coremain.Run()
}
