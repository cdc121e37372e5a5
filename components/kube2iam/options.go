package kube2iam

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"k8s.io/client-go/kubernetes"
)

// Upstream's defaults.
const (
	DefaultAppPort         = 8181
	DefaultMetadataAddress = "169.254.169.254"
	DefaultSessionTTL      = 15 * time.Minute
	DefaultBackoffElapsed  = 2 * time.Second
	DefaultBackoffInterval = time.Second
)

// Options configure the proxy of one node.
type Options struct {
	// Client finds pods by IP and reads namespaces. Required.
	Client kubernetes.Interface
	// NodeName (--node) limits the lookup to pods on this node; empty looks
	// cluster-wide, as upstream without --node.
	NodeName string
	// HostIP (--host-ip) is reported by /healthz.
	HostIP string

	// BaseRoleARN (--base-role-arn) is put before role names, ending in
	// "/" (added when missing).
	BaseRoleARN string
	// DefaultRole (--default-role) is the role of pods without the role
	// annotation. Left empty it is, as upstream's mapper computes it, the
	// base ARN itself: pods without the annotation then list no role (an
	// empty answer), and only with no BaseRoleARN either are they refused
	// ("unable to find role for IP").
	DefaultRole string
	// RoleKey (--iam-role-key) defaults to DefaultRoleKey; NamespaceKey
	// (--namespace-key) to DefaultNamespaceKey; ExternalIDKey
	// (--iam-external-id), the pod annotation whose value AssumeRole passes
	// as ExternalId, to DefaultExternalIDKey.
	RoleKey, NamespaceKey, ExternalIDKey string
	// NamespaceRestriction (--namespace-restrictions) enforces NamespaceKey.
	NamespaceRestriction bool
	// NamespaceRestrictionFormat is FormatRegexp (in any case) or else
	// FormatGlob, the default: as upstream, a value it does not know means
	// glob (New logs it).
	NamespaceRestrictionFormat string

	// MetadataURL is the node's metadata service (--metadata-addr), where
	// other paths go and the node's credentials come from. Defaults to
	// http://169.254.169.254.
	MetadataURL string
	// MetadataClient reaches MetadataURL. Defaults to a client with a 5s timeout.
	MetadataClient *http.Client
	// NodeCredentials are the node's own credentials, which assume the pods'
	// roles. Defaults to the instance profile from MetadataURL (IMDSv2 with
	// fallback, as the SDK's default chain on the node).
	NodeCredentials aws.CredentialsProvider
	// STSEndpoint defaults to https://sts.amazonaws.com, or
	// https://sts.REGION.amazonaws.com with UseRegionalSTS
	// (--use-regional-sts-endpoint) and Region.
	STSEndpoint    string
	UseRegionalSTS bool
	Region         string
	// STSClient reaches STSEndpoint (in the lab: cluster DNS to the emulator,
	// trusting the lab CA). Defaults to http.DefaultClient.
	STSClient *http.Client
	// SessionTTL (--iam-role-session-ttl) defaults to DefaultSessionTTL.
	SessionTTL time.Duration
	// BackoffMaxElapsed and BackoffMaxInterval bound the retries of the pod
	// lookup (--backoff-max-elapsed-time, --backoff-max-interval).
	BackoffMaxElapsed, BackoffMaxInterval time.Duration

	// RemoteIP names the caller of r. Defaults to the connection's source
	// address; tests put pods at 127.0.0.1 instead.
	RemoteIP func(r *http.Request) string
	// Now defaults to time.Now.
	Now func() time.Time
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// remoteIP is the caller's address in addr (host:port or a bare IP),
// normalized, "" when it holds none: upstream's parseRemoteAddr.
func remoteIP(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return ""
	}
	return ip.String()
}

func (o *Options) normalize() error {
	if o.Client == nil {
		return errors.New("Options.Client is required")
	}
	if o.BaseRoleARN != "" {
		if !ValidBaseARN(o.BaseRoleARN) {
			return fmt.Errorf("invalid base role ARN %q, expected: %s", o.BaseRoleARN, baseARNRe)
		}
		if !strings.HasSuffix(o.BaseRoleARN, "/") {
			o.BaseRoleARN += "/"
		}
	}
	if o.RoleKey == "" {
		o.RoleKey = DefaultRoleKey
	}
	if o.NamespaceKey == "" {
		o.NamespaceKey = DefaultNamespaceKey
	}
	if o.ExternalIDKey == "" {
		o.ExternalIDKey = DefaultExternalIDKey
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch f := strings.ToLower(o.NamespaceRestrictionFormat); f {
	case FormatRegexp:
		o.NamespaceRestrictionFormat = FormatRegexp
	default:
		if f != "" && f != FormatGlob {
			o.Logger.Warn("unknown namespace restriction format; glob, as upstream", "format", o.NamespaceRestrictionFormat)
		}
		o.NamespaceRestrictionFormat = FormatGlob
	}
	if o.MetadataURL == "" {
		o.MetadataURL = "http://" + DefaultMetadataAddress
	}
	if o.MetadataClient == nil {
		o.MetadataClient = &http.Client{Timeout: 5 * time.Second}
	}
	if o.STSEndpoint == "" {
		o.STSEndpoint = "https://sts.amazonaws.com"
		if o.UseRegionalSTS && o.Region != "" {
			o.STSEndpoint = "https://sts." + o.Region + ".amazonaws.com"
		}
	}
	if o.STSClient == nil {
		o.STSClient = http.DefaultClient
	}
	if o.SessionTTL == 0 {
		o.SessionTTL = DefaultSessionTTL
	}
	if o.BackoffMaxElapsed == 0 {
		o.BackoffMaxElapsed = DefaultBackoffElapsed
	}
	if o.BackoffMaxInterval == 0 {
		o.BackoffMaxInterval = DefaultBackoffInterval
	}
	if o.RemoteIP == nil {
		o.RemoteIP = func(r *http.Request) string { return remoteIP(r.RemoteAddr) }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}
