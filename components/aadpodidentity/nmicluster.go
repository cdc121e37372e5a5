package aadpodidentity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodeCluster is NMI's Cluster: the pods of one node found by IP through
// the API server, and the CRDs through Kube.
type NodeCluster struct {
	Kube
	Node string
	// Retries and Wait are upstream's getPodListRetry (4 more attempts,
	// 300 ms apart) for a pod the API does not list yet.
	Retries int
	Wait    time.Duration
}

var errPodListEmpty = errors.New("pod list is empty")

// PodByIP is upstream's GetPodInfo: the pending or running pods of the
// node with the IP; exactly one must match.
func (c NodeCluster) PodByIP(ctx context.Context, ip string) (PodInfo, error) {
	if ip == "" {
		return PodInfo{}, errors.New("pod IP is empty")
	}
	var pods []corev1.Pod
	for i := 0; ; i++ {
		l, err := c.CS.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + c.Node + ",status.podIP=" + ip})
		if err == nil {
			pods = pods[:0]
			for _, p := range l.Items {
				if p.Status.Phase == corev1.PodPending || p.Status.Phase == corev1.PodRunning {
					pods = append(pods, p)
				}
			}
			if len(pods) > 0 {
				break
			}
			err = errPodListEmpty
		}
		if i >= c.Retries {
			return PodInfo{}, err
		}
		select {
		case <-ctx.Done():
			return PodInfo{}, ctx.Err()
		case <-time.After(c.Wait):
		}
	}
	return podInfoOf(ip, pods)
}

// podInfoOf is GetPodInfo's answer for the pods matching ip.
func podInfoOf(ip string, pods []corev1.Pod) (PodInfo, error) {
	if len(pods) != 1 {
		names := make([]string, 0, len(pods))
		for _, p := range pods {
			names = append(names, p.Namespace+"/"+p.Name)
		}
		return PodInfo{}, fmt.Errorf("failed to match pod IP %s with [%s]", ip, strings.Join(names, " "))
	}
	p := pods[0]
	info := PodInfo{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels}
	for _, o := range p.OwnerReferences {
		if strings.EqualFold(o.Kind, "ReplicaSet") {
			info.ReplicaSet = o.Name
		}
	}
	return info, nil
}
