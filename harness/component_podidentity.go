package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/idlab/idlab/components/eksagent"
	"github.com/idlab/idlab/components/irsawebhook"
	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/emulators/eksauth"
)

// ComponentPodIdentity is EKS Pod Identity: the pod identity webhook's
// container-credentials mode (on top of ComponentIRSAWebhook) and the EKS
// Pod Identity Agent on every node.
const ComponentPodIdentity = "eks-pod-identity"

// The webhook's container-credentials config: a ConfigMap the lab writes
// from the cluster's pod identity associations (the eks fixtures EKS Auth
// serves), mounted into the webhook, as EKS gives its managed webhook a
// file of the associated service accounts.
const (
	PodIdentityConfigMap = "eks-pod-identity-webhook-config"
	PodIdentityConfigKey = "config.json"
	podIdentityConfigDir = "/etc/eks/pod-identity"
)

// eksAuthTimeout replaces the agent's 1 s EKS Auth timeout in the lab: the
// emulator's first token check of a cluster fetches its issuer's keys.
const eksAuthTimeout = 10 * time.Second

// eksFixturesDir is where the eks fixtures are, beside FixturesDir (as
// copyFixtures finds them).
func (l *Lab) eksFixturesDir() string {
	return filepath.Join(filepath.Dir(filepath.Clean(l.cfg.FixturesDir)), "eks")
}

// podIdentity writes the associated service accounts of the cluster into
// the webhook's container-credentials config, turns that mode on in the
// IRSA webhook, and runs the agent DaemonSet, waiting for both.
type podIdentity struct{}

func (podIdentity) Name() string    { return ComponentPodIdentity }
func (podIdentity) Cluster() string { return "eks" }

// after: Deploy turns on the container-credentials mode of the IRSA
// webhook's Deployment, and waits for that rollout.
func (podIdentity) after() string { return ComponentIRSAWebhook }

func (podIdentity) Deploy(ctx context.Context, d *deployer) error {
	cs, ca, c := d.cs, d.ca, d.cluster
	if !slices.Contains(c.Components, ComponentIRSAWebhook) {
		return fmt.Errorf("%s needs %s, whose webhook injects the container credentials", ComponentPodIdentity, ComponentIRSAWebhook)
	}
	cfg, err := podIdentityConfig(d.eksFixtures, c.Name)
	if err != nil {
		return err
	}
	for _, obj := range []*corev1.ConfigMap{
		{ObjectMeta: metav1.ObjectMeta{Name: PodIdentityConfigMap, Namespace: SystemNamespace}, Data: map[string]string{PodIdentityConfigKey: string(cfg)}},
		{ObjectMeta: metav1.ObjectMeta{Name: labCAConfigMap, Namespace: SystemNamespace}, Data: map[string]string{eksagent.CAKey: string(ca.PEM)}},
	} {
		if err := apply(ctx, cs, obj); err != nil {
			return err
		}
	}
	if err := enableContainerCredentials(ctx, cs); err != nil {
		return err
	}
	opts := eksagent.ManifestOptions{ClusterName: c.Name, Region: c.Region, CAConfigMap: labCAConfigMap}
	for _, obj := range eksagent.Manifests(d.image, SystemNamespace, opts) {
		if ds, ok := obj.(*appsv1.DaemonSet); ok {
			ds.Spec.Template.Annotations = labCAStamp(ca)
			onEveryNode(ds)
			ctr := &ds.Spec.Template.Spec.Containers[0]
			ctr.Args = append(ctr.Args, "--eks-auth-timeout="+eksAuthTimeout.String())
		}
		if err := apply(ctx, cs, obj); err != nil {
			return err
		}
	}
	return waitDaemonSet(ctx, cs, SystemNamespace, eksagent.Name, 2*time.Minute)
}

// podIdentityConfig is the webhook's identities file for cluster: every
// (namespace, service account) with an association in the eks fixtures.
func podIdentityConfig(dir, cluster string) ([]byte, error) {
	iam, err := awsiam.New(awsiam.Options{})
	if err != nil {
		return nil, err
	}
	h, err := eksauth.New(eksauth.Options{IAM: iam})
	if err != nil {
		return nil, err
	}
	if err := h.LoadFixtures(dir); err != nil {
		return nil, fmt.Errorf("pod identity associations: %w", err)
	}
	var ids []WebhookIdentity
	for _, a := range h.Associations() {
		if a.ClusterName == cluster {
			ids = append(ids, WebhookIdentity{Namespace: a.Namespace, ServiceAccount: a.ServiceAccount})
		}
	}
	return encodeIdentities(ids)
}

// WebhookIdentity is one entry of the pod identity webhook's identities
// file: a service account with an association.
type WebhookIdentity struct {
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
}

// webhookIdentities is the identities file.
type webhookIdentities struct {
	Identities []WebhookIdentity `json:"identities"`
}

// encodeIdentities is the identities file the lab writes: ids sorted by
// namespace and name, each once, under "identities" (an empty list, not
// null, when there are none).
func encodeIdentities(ids []WebhookIdentity) ([]byte, error) {
	out := make([]WebhookIdentity, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].ServiceAccount < out[j].ServiceAccount
	})
	return json.Marshal(webhookIdentities{Identities: out})
}

// EditIdentities returns the identities file raw with add listed and
// remove not, in the form the lab writes (encodeIdentities). Empty raw is
// a file with no identities; raw that is not an identities file is an
// error.
func EditIdentities(raw []byte, add, remove []WebhookIdentity) ([]byte, error) {
	var f webhookIdentities
	if len(raw) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("pod identity webhook identities: %w", err)
		}
	}
	ids := slices.DeleteFunc(append(f.Identities, add...), func(id WebhookIdentity) bool { return slices.Contains(remove, id) })
	return encodeIdentities(ids)
}

// UpdatePodIdentityConfig edits the identities file the lab gave the
// cluster's pod identity webhook (the ConfigMap PodIdentityConfigMap in
// SystemNamespace) as EditIdentities does, and returns the content written.
// The webhook sees it once the kubelet has synced the ConfigMap into its
// volume, which can take the kubelet's sync period (a minute by default) and
// more: the lab's stand-in for the delay between EKS's
// CreatePodIdentityAssociation and the managed webhook's file. A
// concurrent change is retried.
func UpdatePodIdentityConfig(ctx context.Context, cs kubernetes.Interface, add, remove []WebhookIdentity) ([]byte, error) {
	cms := cs.CoreV1().ConfigMaps(SystemNamespace)
	var out []byte
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := cms.Get(ctx, PodIdentityConfigMap, metav1.GetOptions{})
		if err != nil {
			return err
		}
		raw, err := EditIdentities([]byte(cm.Data[PodIdentityConfigKey]), add, remove)
		if err != nil {
			return err
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[PodIdentityConfigKey] = string(raw)
		if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			return err
		}
		out = raw
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update %s/%s: %w", SystemNamespace, PodIdentityConfigMap, err)
	}
	return out, nil
}

// enableContainerCredentials mounts the config into the IRSA webhook's
// Deployment and points --watch-container-credentials-config at it, then
// waits for the rollout. The webhook keeps serving meanwhile.
func enableContainerCredentials(ctx context.Context, cs kubernetes.Interface) error {
	deps := cs.AppsV1().Deployments(SystemNamespace)
	d, err := deps.Get(ctx, irsawebhook.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("webhook deployment: %w", err)
	}
	spec := &d.Spec.Template.Spec
	ctr := &spec.Containers[0]
	arg := "--watch-container-credentials-config=" + podIdentityConfigDir + "/" + PodIdentityConfigKey
	if !slices.Contains(ctr.Args, arg) {
		ctr.Args = append(ctr.Args, arg)
	}
	if !slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == PodIdentityConfigMap }) {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: PodIdentityConfigMap, VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: PodIdentityConfigMap}}}})
	}
	if !slices.ContainsFunc(ctr.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == PodIdentityConfigMap }) {
		ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: PodIdentityConfigMap, MountPath: podIdentityConfigDir, ReadOnly: true})
	}
	if _, err := deps.Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("webhook deployment: %w", err)
	}
	return waitDeployment(ctx, cs, SystemNamespace, irsawebhook.Name, 2*time.Minute)
}
