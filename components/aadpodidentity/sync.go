package aadpodidentity

import (
	"sort"
	"strings"
)

// ScaleSetChange is what one sync does on one scale set: identities to
// add and remove, the assigned identities to mark Assigned and to delete
// once the scale set holds the change.
type ScaleSetChange struct {
	Add, Remove []string
	Assign      []AzureAssignedIdentity
	Delete      []AzureAssignedIdentity
}

// SyncPlan is one MIC sync cycle: assigned identities to create (status
// Created), then the changes per scale set, then per node that has no
// scale set (Errors, by node).
type SyncPlan struct {
	Create     []AzureAssignedIdentity
	ByScaleSet map[string]*ScaleSetChange
	Errors     map[string]error
}

func key(a AzureAssignedIdentity) string { return a.Namespace + "/" + a.Name }

// PlanSync is upstream MIC's sync (pkg/mic/mic.go Sync, getListOfIdsToDelete,
// updateUserMSI, e4e7eab) as a plan: desired assigned identities missing
// from current are created; desired ones not yet Assigned get their
// identity added to their node's scale set; current ones no longer desired
// are deleted, their identity removed from the scale set unless another
// desired assigned identity of that scale set still uses it (an identity
// in both lists is kept: add wins, as upstream sets removals first).
// scaleSetOf names a node's scale set.
func PlanSync(desired map[string]AzureAssignedIdentity, current []AzureAssignedIdentity, scaleSetOf func(node string) (string, error)) SyncPlan {
	plan := SyncPlan{ByScaleSet: map[string]*ScaleSetChange{}, Errors: map[string]error{}}
	have := map[string]AzureAssignedIdentity{}
	for _, c := range current {
		have[c.Name] = c
	}
	change := func(node string) *ScaleSetChange {
		ss, err := scaleSetOf(node)
		if err != nil {
			plan.Errors[node] = err
			return nil
		}
		if plan.ByScaleSet[ss] == nil {
			plan.ByScaleSet[ss] = &ScaleSetChange{}
		}
		return plan.ByScaleSet[ss]
	}
	keep := map[string]map[string]bool{} // scale set -> lower-case resource IDs still wanted
	names := make([]string, 0, len(desired))
	for n := range desired {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d := desired[n]
		c := change(d.Spec.NodeName)
		if c == nil {
			continue
		}
		ss, _ := scaleSetOf(d.Spec.NodeName)
		if keep[ss] == nil {
			keep[ss] = map[string]bool{}
		}
		rid := d.Spec.AzureIdentityRef.Spec.ResourceID
		keep[ss][strings.ToLower(rid)] = true
		cur, exists := have[n]
		if !exists {
			plan.Create = append(plan.Create, d)
			cur = d
		}
		if cur.Status.Status != AssignedIDAssigned {
			c.Add = appendOnce(c.Add, rid)
			c.Assign = append(c.Assign, cur)
		}
	}
	sort.Slice(current, func(i, j int) bool { return key(current[i]) < key(current[j]) })
	for _, cur := range current {
		if _, ok := desired[cur.Name]; ok {
			continue
		}
		c := change(cur.Spec.NodeName)
		if c == nil {
			continue
		}
		c.Delete = append(c.Delete, cur)
		if cur.Spec.AzureIdentityRef == nil {
			continue
		}
		ss, _ := scaleSetOf(cur.Spec.NodeName)
		if rid := cur.Spec.AzureIdentityRef.Spec.ResourceID; !keep[ss][strings.ToLower(rid)] {
			c.Remove = appendOnce(c.Remove, rid)
		}
	}
	return plan
}

func appendOnce(s []string, v string) []string {
	for _, x := range s {
		if strings.EqualFold(x, v) {
			return s
		}
	}
	return append(s, v)
}
