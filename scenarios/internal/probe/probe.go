// Package probe is the contract between the SDK probe that runs in scenario
// pods and the scenarios that read it: one JSON line of Result. It imports
// nothing heavy, so the probe binary stays small.
package probe

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
)

// Result is the probe's one line of output.
type Result struct {
	OK           bool   `json:"ok"`
	Arn          string `json:"arn,omitempty"`
	Account      string `json:"account,omitempty"`
	UserID       string `json:"userId,omitempty"`
	Output       string `json:"output,omitempty"` // the call's payload: object text, message ID
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
}

// Parse reads the last JSON line of the probe's output.
func Parse(out string) (Result, error) {
	var last string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "{") {
			last = l
		}
	}
	if last == "" {
		return Result{}, fmt.Errorf("probe printed no result: %q", out)
	}
	var r Result
	if err := json.Unmarshal([]byte(last), &r); err != nil {
		return Result{}, fmt.Errorf("probe result %q: %w", last, err)
	}
	return r, nil
}
