package harness

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// metadataHost resolves to the link-local metadata address, as on GKE; the
// node's DNAT sends that to the GKE metadata server.
const (
	metadataHost = "metadata.google.internal"
	metadataIP   = "169.254.169.254"
)

const (
	corednsBegin = "# idlab begin: cloud host names go to the lab emulator"
	corednsEnd   = "# idlab end"
)

// corefileWithEmulator returns corefile with the lab block (re)placed in the
// default server block: A queries for zones (the cloud zones, cloud.Zones,
// and the issuer hosts they do not cover) answer with ip,
// metadata.google.internal answers 169.254.169.254 as on GKE, and AAAA
// queries answer empty at once so resolvers do not wait on the missing
// upstream.
func corefileWithEmulator(corefile, ip string, zoneList []string) (string, error) {
	if b := strings.Index(corefile, corednsBegin); b >= 0 {
		e := strings.Index(corefile, corednsEnd)
		if e < b {
			return "", fmt.Errorf("Corefile has an unterminated idlab block")
		}
		corefile = corefile[:b] + strings.TrimLeft(corefile[e+len(corednsEnd):], "\n")
	}
	anchor := ".:53 {"
	i := strings.Index(corefile, anchor)
	if i < 0 {
		return "", fmt.Errorf("Corefile has no %q server block", anchor)
	}
	if len(zoneList) == 0 {
		return "", fmt.Errorf("no zones to send to the emulator")
	}
	zones := strings.Join(zoneList, " ")
	block := fmt.Sprintf(`
    %s
    template IN A %s {
        answer "{{ .Name }} 60 IN A %s"
    }
    template IN A %s {
        answer "{{ .Name }} 60 IN A %s"
    }
    template IN AAAA %s %s {
        rcode NOERROR
    }
    %s`, corednsBegin, zones, ip, metadataHost, metadataIP, zones, metadataHost, corednsEnd)
	at := i + len(anchor)
	return corefile[:at] + block + corefile[at:], nil
}

// pointDNSAtEmulator patches the coredns ConfigMap to send zones to the
// emulator at ip and restarts CoreDNS so the change is live before the
// scenarios start.
func pointDNSAtEmulator(ctx context.Context, cs kubernetes.Interface, ip string, zones []string) error {
	cms := cs.CoreV1().ConfigMaps("kube-system")
	cm, err := cms.Get(ctx, "coredns", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read coredns ConfigMap: %w", err)
	}
	next, err := corefileWithEmulator(cm.Data["Corefile"], ip, zones)
	if err != nil {
		return err
	}
	if next != cm.Data["Corefile"] {
		cm.Data["Corefile"] = next
		if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update coredns ConfigMap: %w", err)
		}
		pods := cs.CoreV1().Pods("kube-system")
		if err := pods.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "k8s-app=kube-dns"}); err != nil {
			return fmt.Errorf("restart CoreDNS: %w", err)
		}
	}
	return waitDeploymentReady(ctx, cs, "kube-system", "coredns", 3*time.Minute)
}

func waitDeploymentReady(ctx context.Context, cs kubernetes.Interface, ns, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && d.Spec.Replicas != nil && d.Status.ReadyReplicas == *d.Spec.Replicas &&
			d.Status.UpdatedReplicas == *d.Spec.Replicas && d.Status.ObservedGeneration >= d.Generation {
			pods, perr := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=kube-dns"})
			if perr == nil && allReady(pods.Items) && len(pods.Items) == int(*d.Spec.Replicas) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("deployment %s/%s not ready after %s: %w", ns, name, timeout, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

func allReady(pods []corev1.Pod) bool {
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			return false
		}
		ready := false
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if !ready {
			return false
		}
	}
	return true
}

// corefileWithoutEmulator is corefile with the lab block taken out, as
// corefileWithEmulator found it; a Corefile without one is unchanged.
func corefileWithoutEmulator(corefile string) (string, error) {
	b := strings.Index(corefile, corednsBegin)
	if b < 0 {
		return corefile, nil
	}
	e := strings.Index(corefile, corednsEnd)
	if e < b {
		return "", fmt.Errorf("Corefile has an unterminated idlab block")
	}
	// The block starts on its own line after the anchor's, indented.
	start := strings.LastIndex(corefile[:b], "\n")
	return corefile[:start] + corefile[e+len(corednsEnd):], nil
}
