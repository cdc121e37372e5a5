package irsawebhook

import (
	"bytes"
	"encoding/json"
	"time"
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

// ConfigLoad is the line the webhook logs when it takes a new
// container-credentials identities file (ConfigLoadMessage).
type ConfigLoad struct {
	File       string `json:"file"`
	Identities int    `json:"identities"`
	// SHA256 is ConfigDigest of the content loaded.
	SHA256 string `json:"sha256"`
}

// LogLine is one line of the webhook's JSON log that scenarios read: an
// admission or a load of the identities file, with the time it was logged
// (zero when the line has none).
type LogLine struct {
	Time      time.Time
	Admission *AdmissionLog
	Load      *ConfigLoad
}

// ParseLog returns the admission and config-load lines of a webhook log in
// the order it wrote them. Other lines, JSON or not, are skipped; so is a
// line whose fields have the wrong types.
func ParseLog(log []byte) []LogLine {
	var out []LogLine
	for _, line := range bytes.Split(log, []byte("\n")) {
		var head struct {
			Msg  string    `json:"msg"`
			Time time.Time `json:"time"`
		}
		if json.Unmarshal(line, &head) != nil {
			continue
		}
		switch head.Msg {
		case AdmissionMessage:
			var a AdmissionLog
			if json.Unmarshal(line, &a) == nil {
				out = append(out, LogLine{Time: head.Time, Admission: &a})
			}
		case ConfigLoadMessage:
			var l ConfigLoad
			if json.Unmarshal(line, &l) == nil {
				out = append(out, LogLine{Time: head.Time, Load: &l})
			}
		}
	}
	return out
}

// ParseAdmissionLog returns the admission lines of a webhook log that are
// about namespace/pod, in order. Other lines, JSON or not, are skipped.
func ParseAdmissionLog(log []byte, namespace, pod string) []AdmissionLog {
	var out []AdmissionLog
	for _, l := range ParseLog(log) {
		if a := l.Admission; a != nil && a.Namespace == namespace && a.Pod == pod {
			out = append(out, *a)
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
