package awsimds

import (
	"fmt"
	"net/http"
	"strconv"
)

// MetadataOptions are the instance's metadata options that EC2's
// ModifyInstanceMetadataOptions changes on a running instance: HttpTokens
// (required = RequireV2) and HttpPutResponseHopLimit.
type MetadataOptions struct {
	RequireV2 bool `json:"requireV2"`
	HopLimit  int  `json:"hopLimit"`
}

// MetadataOptions returns the current options.
func (h *Handler) MetadataOptions() MetadataOptions {
	h.optMu.RLock()
	defer h.optMu.RUnlock()
	return MetadataOptions{RequireV2: h.opt.RequireV2, HopLimit: h.opt.HopLimit}
}

// SetMetadataOptions changes the options for the requests that follow, as
// ModifyInstanceMetadataOptions does; tokens already issued stay valid.
func (h *Handler) SetMetadataOptions(o MetadataOptions) error {
	if o.HopLimit < 1 || o.HopLimit > 64 {
		return fmt.Errorf("awsimds: HopLimit %d must be between 1 and 64", o.HopLimit)
	}
	h.optMu.Lock()
	defer h.optMu.Unlock()
	h.opt.RequireV2, h.opt.HopLimit = o.RequireV2, o.HopLimit
	h.log.Info("imds metadata options", "instance", h.opt.InstanceID, "http_tokens_required", o.RequireV2, "hop_limit", o.HopLimit)
	return nil
}

// AddHop wraps the handler of an instance for requests that crossed one
// more network hop before reaching it, such as a container's traffic
// through the node's bridge: it adds one to X-Idlab-Hops (absent = 1), so
// the token PUT's hop limit applies as it would to the IP TTL on EC2.
func AddHop(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set(HopsHeader, strconv.Itoa(hopsOf(r)+1))
		next.ServeHTTP(w, r)
	})
}

// Actions under which the instance's refusals go into IAM's decision log
// (IMDS has no IAM actions; these name the two refusals IMDS makes).
const (
	ActionPutToken    = "imds:PutToken"
	ActionGetMetadata = "imds:GetMetadata"
)

// InstanceARN is the instance's ARN, the resource of its refusals in the
// decision log.
func (h *Handler) InstanceARN() string {
	return "arn:aws:ec2:" + h.opt.Region + ":" + h.opt.Account + ":instance/" + h.opt.InstanceID
}

// reject records a refusal in IAM's decision log (when the instance has
// IAM), so scenarios read IMDS's refusals where they read the others.
func (h *Handler) reject(r *http.Request, action, code, reason string) {
	if h.opt.IAM == nil {
		return
	}
	h.opt.IAM.RecordRejection(r.Context(), "remote "+r.RemoteAddr, action, h.InstanceARN(), code, reason, "imds-"+h.opt.InstanceID)
}
