package aadpodidentity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// MICCluster is what MIC reads and writes in the cluster (Kube is one).
type MICCluster interface {
	LabelledPods(ctx context.Context) ([]corev1.Pod, error)
	ProviderIDs(ctx context.Context) (map[string]string, error)
	Identities(ctx context.Context) ([]AzureIdentity, error)
	Bindings(ctx context.Context) ([]AzureIdentityBinding, error)
	AssignedIdentities(ctx context.Context) ([]AzureAssignedIdentity, error)
	CreateAssigned(ctx context.Context, a AzureAssignedIdentity) error
	SetAssignedStatus(ctx context.Context, a AzureAssignedIdentity, status string) error
	DeleteAssigned(ctx context.Context, a AzureAssignedIdentity) error
}

// ScaleSets updates scale sets' identities (ARM is one).
type ScaleSets interface {
	UpdateIdentities(ctx context.Context, sub, rg, name string, add, remove []string) error
}

// MIC is the Managed Identity Controller.
type MIC struct {
	Cluster         MICCluster
	Cloud           ScaleSets
	Config          AzureConfig
	ForceNamespaced bool
	Logger          *slog.Logger
}

// Sync runs one cycle: match, create assigned identities, update the
// scale sets, then record Assigned or delete. Errors of one scale set do
// not stop the others; they are joined.
func (m MIC) Sync(ctx context.Context) error {
	log := m.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pods, err := m.Cluster.LabelledPods(ctx)
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	ids, err := m.Cluster.Identities(ctx)
	if err != nil {
		return err
	}
	bindings, err := m.Cluster.Bindings(ctx)
	if err != nil {
		return err
	}
	current, err := m.Cluster.AssignedIdentities(ctx)
	if err != nil {
		return err
	}
	nodes, err := m.Cluster.ProviderIDs(ctx)
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	desired := DesiredAssignments(pods, bindings, ids, m.ForceNamespaced, log)
	plan := PlanSync(desired, current, func(node string) (string, error) { return m.Config.ScaleSetOf(nodes[node]) })
	var errs []error
	for node, err := range plan.Errors {
		errs = append(errs, fmt.Errorf("node %s: %w", node, err))
	}
	for _, a := range plan.Create {
		if err := m.Cluster.CreateAssigned(ctx, a); err != nil {
			errs = append(errs, err)
			continue
		}
		log.Info("mic: assigned identity created", "name", a.Namespace+"/"+a.Name, "pod", a.Spec.PodNamespace+"/"+a.Spec.Pod, "status", AssignedIDCreated)
	}
	for ss, c := range plan.ByScaleSet {
		if len(c.Add) > 0 || len(c.Remove) > 0 {
			log.Info("mic: processing node", "vmss", ss, "add", len(c.Add), "del", len(c.Remove))
			if err := m.Cloud.UpdateIdentities(ctx, m.Config.SubscriptionID, m.Config.ResourceGroupName, ss, c.Add, c.Remove); err != nil {
				log.Error("mic: failed to update user-assigned identities", "vmss", ss, "add", c.Add, "del", c.Remove, "err", err)
				errs = append(errs, fmt.Errorf("failed to update user-assigned identities on node %s (add [%d], del [%d], update[0]), error: %w", ss, len(c.Add), len(c.Remove), err))
				continue
			}
		}
		for _, a := range c.Assign {
			if err := m.Cluster.SetAssignedStatus(ctx, a, AssignedIDAssigned); err != nil {
				errs = append(errs, err)
				continue
			}
			log.Info("mic: identity assigned", "decision", "allow", "name", a.Namespace+"/"+a.Name, "vmss", ss,
				"identity", a.Spec.AzureIdentityRef.Spec.ResourceID, "status", AssignedIDAssigned)
		}
		for _, a := range c.Delete {
			if err := m.Cluster.DeleteAssigned(ctx, a); err != nil {
				errs = append(errs, err)
				continue
			}
			log.Info("mic: assigned identity deleted", "name", a.Namespace+"/"+a.Name, "vmss", ss)
		}
	}
	return errors.Join(errs...)
}

// Run syncs every interval until ctx ends, logging each cycle's error.
func (m MIC) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := m.Sync(ctx); err != nil && m.Logger != nil {
			m.Logger.Error("mic: sync", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
