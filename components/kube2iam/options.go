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
	// annotation; "" refuses them.
	DefaultRole string
	// RoleKey (--iam-role-key) defaults to DefaultRoleKey; NamespaceKey
	// (--namespace-key) to DefaultNamespaceKey.
	RoleKey, NamespaceKey string
	// NamespaceRestriction (--namespace-restrictions) enforces NamespaceKey.
	NamespaceRestriction bool
	// NamespaceRestrictionFormat is FormatGlob (default) or FormatRegexp.
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
	switch strings.ToLower(o.NamespaceRestrictionFormat) {
	case "", FormatGlob:
		o.NamespaceRestrictionFormat = FormatGlob
	case FormatRegexp:
		o.NamespaceRestrictionFormat = FormatRegexp
	default:
		return fmt.Errorf("namespace restriction format %q: want glob or regexp", o.NamespaceRestrictionFormat)
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
		o.RemoteIP = func(r *http.Request) string {
			h, _, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil || net.ParseIP(h) == nil {
				return ""
			}
			return h
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
