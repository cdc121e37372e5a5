package gkemetadata

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
)

// Google endpoints the metadata server calls, as GKE's does.
const (
	DefaultSTSEndpoint            = "https://sts.googleapis.com"
	DefaultIAMCredentialsEndpoint = "https://iamcredentials.googleapis.com"
)

// Port is where GKE's metadata server listens on the node (hostNetwork);
// the node's DNAT sends 169.254.169.254:80 there.
const Port = 988

// Options configure the metadata server of one node.
type Options struct {
	// Client lists and watches the pods of this node and every service
	// account (Handler.Start), reads a service account the watch has not
	// brought yet, and creates service-account tokens (TokenRequest).
	// Required.
	Client kubernetes.Interface
	// NodeName: only pods scheduled on this node are served. Required.
	NodeName string
	// NodeIP is the node's address: callers from it (hostNetwork pods)
	// get the node's identity (NodeServiceAccount, NodeToken).
	NodeIP string

	// ProjectID and ProjectNumber of the cluster's project; the workload
	// identity pool is ProjectID.svc.id.goog. Both required.
	ProjectID, ProjectNumber string
	// ClusterName and ClusterLocation (a region or zone) are served as
	// instance attributes cluster-name and cluster-location. Required.
	ClusterName, ClusterLocation string
	// Zone is served as instance/zone. Defaults to ClusterLocation.
	Zone string
	// IssuerURL is the cluster's service-account issuer; it names the pool
	// provider in the STS audience identitynamespace:POOL:ISSUER. Required.
	IssuerURL string

	// GoogleHTTPClient reaches STSEndpoint and IAMCredentialsEndpoint (in
	// the lab: cluster DNS to the emulator, trusting the lab CA). Defaults
	// to http.DefaultClient.
	GoogleHTTPClient *http.Client
	// STSEndpoint defaults to DefaultSTSEndpoint.
	STSEndpoint string
	// IAMCredentialsEndpoint defaults to DefaultIAMCredentialsEndpoint.
	IAMCredentialsEndpoint string

	// NodeServiceAccount is the email hostNetwork callers see as their
	// default account. Defaults to PROJECT_NUMBER-compute@developer.gserviceaccount.com,
	// the Compute Engine default service account GKE nodes run as.
	NodeServiceAccount string
	// NodeKSA ("namespace/name") gives the node its identity the way a pod
	// gets one: when set and NodeToken is nil, the node's token is this
	// KSA's token exchanged at STS and then NodeServiceAccount impersonated,
	// which needs roles/iam.workloadIdentityUser for the KSA on it. The lab
	// names the metadata server's own service account; on GKE the node's
	// identity comes from the VM instead.
	NodeKSA string
	// NodeToken returns the node's access token and its expiry. nil (the
	// default) answers hostNetwork callers' token requests with 404.
	NodeToken func(ctx context.Context) (string, time.Time, error)

	// RemoteIP extracts the caller's IP. Defaults to the host of
	// r.RemoteAddr (what the DNAT preserves). Tests set it.
	RemoteIP func(r *http.Request) string
	// Now defaults to time.Now.
	Now func() time.Time
	// PodLookupWait is how long a request from an IP with no known pod
	// waits for the pod informer to bring one: a container's first call
	// can beat the kubelet's status update that publishes its IP. Zero
	// does not wait; `idlab gke-metadata serve` waits 15s.
	PodLookupWait time.Duration
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// ErrInvalidOptions is wrapped by New for incomplete options.
var ErrInvalidOptions = errors.New("invalid options")

// normalize fills defaults and checks required fields.
func (o *Options) normalize() error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"NodeName", o.NodeName}, {"ProjectID", o.ProjectID}, {"ProjectNumber", o.ProjectNumber},
		{"ClusterName", o.ClusterName}, {"ClusterLocation", o.ClusterLocation}, {"IssuerURL", o.IssuerURL},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if o.Client == nil {
		missing = append(missing, "Client")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s required", ErrInvalidOptions, strings.Join(missing, ", "))
	}
	if !strings.HasPrefix(o.IssuerURL, "https://") {
		return fmt.Errorf("%w: IssuerURL %q: want an https URL", ErrInvalidOptions, o.IssuerURL)
	}
	if o.Zone == "" {
		o.Zone = o.ClusterLocation
	}
	if o.GoogleHTTPClient == nil {
		o.GoogleHTTPClient = http.DefaultClient
	}
	if o.STSEndpoint == "" {
		o.STSEndpoint = DefaultSTSEndpoint
	}
	if o.IAMCredentialsEndpoint == "" {
		o.IAMCredentialsEndpoint = DefaultIAMCredentialsEndpoint
	}
	o.STSEndpoint = strings.TrimSuffix(o.STSEndpoint, "/")
	o.IAMCredentialsEndpoint = strings.TrimSuffix(o.IAMCredentialsEndpoint, "/")
	if o.NodeServiceAccount == "" {
		o.NodeServiceAccount = o.ProjectNumber + "-compute@developer.gserviceaccount.com"
	}
	if o.RemoteIP == nil {
		o.RemoteIP = remoteAddrIP
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// WorkloadPool is the cluster's workload identity pool, PROJECT.svc.id.goog.
func (o *Options) WorkloadPool() string { return o.ProjectID + ".svc.id.goog" }

// remoteAddrIP is the host part of r.RemoteAddr.
func remoteAddrIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
