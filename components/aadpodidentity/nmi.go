package aadpodidentity

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrNoIdentity is wrapped by NMI's errors for a pod with no identity it
// may use.
var ErrNoIdentity = errors.New("no assigned identity")

// Retry settings of NMI's search for a pod's assigned identities
// (cmd/nmi/main.go flags --retry-attempts-for-created,
// --retry-attempts-for-assigned, --find-identity-retry-interval).
type Retry struct {
	AttemptsForCreated  int
	AttemptsForAssigned int
	IntervalSeconds     int
}

// DefaultRetry is upstream's default: 16 and 4 attempts, 5 s apart.
var DefaultRetry = Retry{AttemptsForCreated: 16, AttemptsForAssigned: 4, IntervalSeconds: 5}

// Refusal is NMI's answer to a pod with no assigned identity once its
// retries are spent: 404 and upstream's text (standard.go
// listPodIDsWithRetry, its error %+v of a nil error printing <nil>;
// written by http.Error, so text/plain with a trailing newline).
func Refusal(podNS, podName string, r Retry) (int, string) {
	return http.StatusNotFound, createdRefusal(podNS, podName, "", r).Error()
}

func createdRefusal(podNS, podName, clientID string, r Retry) error {
	prefix := ""
	if clientID != "" {
		prefix = "clientID in request: " + redact(clientID) + ", "
	}
	return fmt.Errorf("%sgetting assigned identities for pod %s/%s in CREATED state failed after %d attempts, retry duration [%d]s, error: <nil>. Check MIC pod logs for identity assignment errors%w",
		prefix, podNS, podName, r.AttemptsForCreated, r.IntervalSeconds, silent{ErrNoIdentity})
}

// silent wraps an error for errors.Is without printing it.
type silent struct{ err error }

func (silent) Error() string   { return "" }
func (s silent) Unwrap() error { return s.err }

// IdentitiesByState is upstream's CRD ListPodIds: the identities of the
// pod's assigned identities, grouped by status ("" for those an old MIC
// wrote without one).
func IdentitiesByState(podNS, podName string, assigned []AzureAssignedIdentity) map[string][]AzureIdentity {
	out := map[string][]AzureIdentity{}
	for _, a := range assigned {
		if a.Spec.Pod != podName || a.Spec.PodNamespace != podNS || a.Spec.AzureIdentityRef == nil {
			continue
		}
		out[a.Status.Status] = append(out[a.Status.Status], *a.Spec.AzureIdentityRef)
	}
	return out
}

// ListStep is one attempt of upstream's listPodIDsWithRetry (pkg/nmi/
// standard.go, e4e7eab), attempt counted from 0: done with the identities
// when some are usable (state "" or Assigned; with a client or resource ID
// asked for, one of them must be it, compared case-insensitively), done
// with the CREATED-state refusal once AttemptsForCreated attempts found
// none even in state Created, else not done (wait IntervalSeconds and try
// again). Past AttemptsForCreated+AttemptsForAssigned attempts the caller
// gives AssignedRefusal.
func ListStep(podNS, podName string, states map[string][]AzureIdentity, attempt int, clientID, resourceID string, r Retry) (ids []AzureIdentity, done bool, err error) {
	requested := func(id AzureIdentity) bool {
		return clientID != "" && strings.EqualFold(clientID, id.Spec.ClientID) || resourceID != "" && strings.EqualFold(resourceID, id.Spec.ResourceID)
	}
	if clientID == "" && resourceID == "" {
		switch {
		case len(states[""]) != 0:
			return states[""], true, nil
		case len(states[AssignedIDAssigned]) != 0:
			return states[AssignedIDAssigned], true, nil
		case len(states[AssignedIDCreated]) == 0 && attempt >= r.AttemptsForCreated:
			return nil, true, createdRefusal(podNS, podName, "", r)
		}
		return nil, false, nil
	}
	for _, st := range []string{"", AssignedIDAssigned} {
		for _, id := range states[st] {
			if requested(id) {
				return states[st], true, nil
			}
		}
	}
	for _, id := range states[AssignedIDCreated] {
		if requested(id) {
			return nil, false, nil
		}
	}
	if attempt >= r.AttemptsForCreated {
		return nil, true, createdRefusal(podNS, podName, clientID, r)
	}
	return nil, false, nil
}

// AssignedRefusal is listPodIDsWithRetry's error once every attempt is
// spent with an identity still in state Created.
func AssignedRefusal(podNS, podName string, r Retry) error {
	return fmt.Errorf("getting assigned identities for pod %s/%s in ASSIGNED state failed after %d attempts, retry duration [%d]s, error: <nil>. Check MIC pod logs for identity assignment errors%w",
		podNS, podName, r.AttemptsForCreated+r.AttemptsForAssigned, r.IntervalSeconds, silent{ErrNoIdentity})
}

// ErrIndexOutOfRange is what upstream's GetIdentities does when
// namespaced filtering leaves no identity and none was asked for: it
// indexes an empty slice, and NMI's handler recovers the panic into a 500
// with the runtime's text.
var ErrIndexOutOfRange = errors.New("runtime error: index out of range [0] with length 0")

// ChooseIdentity is upstream's StandardClient.GetIdentities after the
// retries: in namespaced mode (forced, or the identity's annotation) only
// identities of the pod's namespace count; with no client or resource ID
// asked for the first is the pod's; else the first whose client ID or
// resource ID equals it exactly (upstream compares with ==, though its
// retry loop compared case-insensitively).
func ChooseIdentity(podNS string, ids []AzureIdentity, clientID, resourceID string, forceNamespaced bool) (AzureIdentity, error) {
	var kept []AzureIdentity
	for _, id := range ids {
		if isNamespaced(&id, forceNamespaced) && id.Namespace != podNS {
			continue
		}
		kept = append(kept, id)
	}
	if clientID == "" && resourceID == "" {
		if len(kept) == 0 {
			return AzureIdentity{}, ErrIndexOutOfRange
		}
		return kept[0], nil
	}
	for _, id := range kept {
		if clientID != "" && id.Spec.ClientID == clientID || resourceID != "" && id.Spec.ResourceID == resourceID {
			return id, nil
		}
	}
	return AzureIdentity{}, fmt.Errorf("no azure identity found for request clientID %s%w", redact(clientID), silent{ErrNoIdentity})
}

// PodIdentity is NMI's answer for a pod once MIC has settled: the
// identities of its assigned identities (ListStep at its last attempt)
// and ChooseIdentity's pick.
func PodIdentity(podNS, podName string, assigned []AzureAssignedIdentity, clientID, resourceID string, forceNamespaced bool) (AzureIdentity, error) {
	r := Retry{}
	ids, done, err := ListStep(podNS, podName, IdentitiesByState(podNS, podName, assigned), 0, clientID, resourceID, r)
	if !done {
		return AzureIdentity{}, AssignedRefusal(podNS, podName, r)
	}
	if err != nil {
		return AzureIdentity{}, err
	}
	return ChooseIdentity(podNS, ids, clientID, resourceID, forceNamespaced)
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
