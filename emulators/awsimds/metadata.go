package awsimds

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

const (
	metaPrefix      = "/latest/meta-data"
	identityDoc     = "/latest/dynamic/instance-identity/document"
	credsPrefix     = metaPrefix + "/iam/security-credentials"
	timeFormat      = "2006-01-02T15:04:05Z"
	codeSuccess     = "Success"
	codeUnassumable = "AssumeRoleUnauthorizedAccess"
)

// serveMetadata answers the GET paths of the package doc.
func (h *Handler) serveMetadata(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch cleanPath(p) {
	case metaPrefix:
		entries := []string{"ami-id", "hostname", "instance-id", "instance-type", "local-ipv4", "placement/"}
		if h.role != "" {
			entries = append(entries, "iam/")
		}
		writeText(w, strings.Join(sortedEntries(entries), "\n"))
		return
	case metaPrefix + "/instance-id":
		writeText(w, h.opt.InstanceID)
		return
	case metaPrefix + "/ami-id":
		writeText(w, amiID)
		return
	case metaPrefix + "/instance-type":
		writeText(w, instanceType)
		return
	case metaPrefix + "/hostname":
		writeText(w, h.hostname())
		return
	case metaPrefix + "/local-ipv4":
		writeText(w, privateIP)
		return
	case metaPrefix + "/placement":
		writeText(w, "availability-zone\nregion")
		return
	case metaPrefix + "/placement/region":
		writeText(w, h.opt.Region)
		return
	case metaPrefix + "/placement/availability-zone":
		writeText(w, h.opt.AvailabilityZone)
		return
	case identityDoc:
		h.writeJSON(w, h.identityDocument())
		return
	}
	if h.role != "" {
		switch cleanPath(p) {
		case metaPrefix + "/iam":
			writeText(w, "info\nsecurity-credentials/")
			return
		case metaPrefix + "/iam/info":
			h.serveIAMInfo(w, r)
			return
		case credsPrefix:
			writeText(w, h.role)
			return
		case credsPrefix + "/" + h.role:
			h.serveCredentials(w, r)
			return
		}
	}
	writeStatus(w, http.StatusNotFound)
}

// Fixed facts of the emulated instance.
const (
	amiID        = "ami-0abcdef1234567890"
	instanceType = "t3.medium"
	privateIP    = "10.0.0.10"
)

func (h *Handler) hostname() string {
	return "ip-" + strings.ReplaceAll(privateIP, ".", "-") + "." + h.opt.Region + ".compute.internal"
}

func sortedEntries(e []string) []string {
	out := append([]string(nil), e...)
	slices.Sort(out)
	return out
}

func (h *Handler) writeJSON(w http.ResponseWriter, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		h.log.Error("imds encode", "err", err)
		writeStatus(w, http.StatusInternalServerError)
		return
	}
	writeText(w, string(b))
}

// instanceIdentityDocument has the fields and spelling of EC2's document.
type instanceIdentityDocument struct {
	AccountID               string   `json:"accountId"`
	Architecture            string   `json:"architecture"`
	AvailabilityZone        string   `json:"availabilityZone"`
	BillingProducts         []string `json:"billingProducts"`
	DevpayProductCodes      []string `json:"devpayProductCodes"`
	MarketplaceProductCodes []string `json:"marketplaceProductCodes"`
	ImageID                 string   `json:"imageId"`
	InstanceID              string   `json:"instanceId"`
	InstanceType            string   `json:"instanceType"`
	KernelID                *string  `json:"kernelId"`
	PendingTime             string   `json:"pendingTime"`
	PrivateIP               string   `json:"privateIp"`
	RamdiskID               *string  `json:"ramdiskId"`
	Region                  string   `json:"region"`
	Version                 string   `json:"version"`
}

func (h *Handler) identityDocument() instanceIdentityDocument {
	return instanceIdentityDocument{
		AccountID: h.opt.Account, Architecture: "x86_64", AvailabilityZone: h.opt.AvailabilityZone,
		ImageID: amiID, InstanceID: h.opt.InstanceID, InstanceType: instanceType,
		PendingTime: h.boot.Format(timeFormat), PrivateIP: privateIP, Region: h.opt.Region, Version: "2017-09-30",
	}
}

// instanceProfileID is a stable AIPA... ID derived from the role ARN.
func (h *Handler) instanceProfileID() string {
	sum := sha256.Sum256([]byte("instance-profile:" + h.opt.RoleARN))
	return "AIPA" + base32.StdEncoding.EncodeToString(sum[:])[:17]
}
