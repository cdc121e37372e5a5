package irsawebhook

import (
	"bytes"
	"encoding/json"
)

// AdmissionLog is the line the webhook logs for each admission request, as
// its JSON log (`idlab irsa-webhook`) carries it: scenarios read it back
// from the webhook's pod log.
type AdmissionLog struct {
	Msg       string `json:"msg"`
	Namespace string `json:"namespace"`
	// Pod is the pod's name, or its generateName before the API server
	// names it.
	Pod string `json:"pod"`
	// RequestID is the AdmissionRequest's UID.
	RequestID string `json:"request_id"`
	Mutated   bool   `json:"mutated"`
	Reason    string `json:"reason"`
}

// ParseAdmissionLog returns the admission lines of a webhook log that are
// about namespace/pod, in order. Other lines, JSON or not, are skipped.
func ParseAdmissionLog(log []byte, namespace, pod string) []AdmissionLog {
	var out []AdmissionLog
	for _, line := range bytes.Split(log, []byte("\n")) {
		var a AdmissionLog
		if json.Unmarshal(line, &a) == nil && a.Msg == AdmissionMessage && a.Namespace == namespace && a.Pod == pod {
			out = append(out, a)
		}
	}
	return out
}

// String says what the line shows, for a matrix row's reason: "admission
// UID of NAMESPACE/POD: mutated|not mutated: REASON".
func (a AdmissionLog) String() string {
	did := "not mutated"
	if a.Mutated {
		did = "mutated"
	}
	return "admission " + a.RequestID + " of " + a.Namespace + "/" + a.Pod + ": " + did + ": " + a.Reason
}
