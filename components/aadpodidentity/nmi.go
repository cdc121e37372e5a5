package aadpodidentity

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrNoIdentity is wrapped by PodIdentity when the pod has none.
var ErrNoIdentity = errors.New("no assigned identity")

// Retry settings NMI's refusal text names (cmd/nmi/main.go defaults:
// --retry-attempts-for-created 16, --find-identity-retry-interval 5).
type Retry struct {
	AttemptsForCreated int
	IntervalSeconds    int
}

// DefaultRetry is upstream's default.
var DefaultRetry = Retry{AttemptsForCreated: 16, IntervalSeconds: 5}

// Refusal is NMI's answer to a pod with no assigned identity once its
// retries are spent: 404 and upstream's text (standard.go
// listPodIDsWithRetry, its error %+v of a nil error printing <nil>;
// written by http.Error, so text/plain with a trailing newline).
func Refusal(podNS, podName string, r Retry) (int, string) {
	return http.StatusNotFound, fmt.Sprintf("getting assigned identities for pod %s/%s in CREATED state failed after %d attempts, retry duration [%d]s, error: <nil>. Check MIC pod logs for identity assignment errors",
		podNS, podName, r.AttemptsForCreated, r.IntervalSeconds)
}

// PodIdentity is NMI's StandardClient.GetIdentities over the pod's
// assigned identities in state Assigned: in namespaced mode (forced, or
// the identity's annotation) only identities of the pod's namespace count;
// with no client or resource ID requested the first is the pod's, else
// the one whose client ID or resource ID (case-insensitively) is asked for.
func PodIdentity(podNS, podName string, assigned []AzureAssignedIdentity, clientID, resourceID string, forceNamespaced bool) (AzureIdentity, error) {
	var ids []AzureIdentity
	for _, a := range assigned {
		if a.Spec.Pod != podName || a.Spec.PodNamespace != podNS || a.Status.Status != AssignedIDAssigned || a.Spec.AzureIdentityRef == nil {
			continue
		}
		id := *a.Spec.AzureIdentityRef
		if isNamespaced(&id, forceNamespaced) && id.Namespace != podNS {
			continue
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return AzureIdentity{}, fmt.Errorf("pod %s/%s: %w", podNS, podName, ErrNoIdentity)
	}
	if clientID == "" && resourceID == "" {
		return ids[0], nil
	}
	for _, id := range ids {
		if clientID != "" && strings.EqualFold(id.Spec.ClientID, clientID) || resourceID != "" && strings.EqualFold(id.Spec.ResourceID, resourceID) {
			return id, nil
		}
	}
	return AzureIdentity{}, fmt.Errorf("no azure identity found for request clientID %s: %w", redact(clientID), ErrNoIdentity)
}

// redact is upstream's utils.RedactClientID: a client ID of at least
// eight characters keeps its first and last four around
// "##### REDACTED #####"; a shorter one is written as it is.
func redact(clientID string) string {
	if len(clientID) < 8 || strings.ContainsAny(clientID[:4]+clientID[len(clientID)-4:], " \t\n\r\f\v") {
		return clientID
	}
	return clientID[:4] + "##### REDACTED #####" + clientID[len(clientID)-4:]
}

// Excepted is upstream's pod.IsPodExcepted: a pod is excepted when any one
// label of any exception in its namespace is on the pod, the values
// compared case-insensitively.
func Excepted(podLabels map[string]string, exceptions []AzurePodIdentityException) bool {
	for _, e := range exceptions {
		for k, v := range e.Spec.PodLabels {
			if got, ok := podLabels[k]; ok && strings.EqualFold(got, v) {
				return true
			}
		}
	}
	return false
}
