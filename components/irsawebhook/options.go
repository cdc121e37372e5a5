package irsawebhook

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"k8s.io/client-go/kubernetes"
)

// Defaults of Options, as upstream's flags default them.
const (
	DefaultAudience        = "sts.amazonaws.com"
	DefaultTokenExpiration = int64(86400)
	// DefaultLookupTimeout bounds the API lookup of a ServiceAccount missing
	// from the cache; well under the webhook's 10 s timeoutSeconds.
	DefaultLookupTimeout = 3 * time.Second
)

// Options configures a Handler. The zero value with a Client works.
type Options struct {
	// Region, when set, is injected as AWS_REGION and AWS_DEFAULT_REGION
	// (upstream's --aws-default-region). Defaults to none.
	Region string
	// DefaultAudience is the token audience for ServiceAccounts without an
	// eks.amazonaws.com/audience annotation. Defaults to "sts.amazonaws.com".
	DefaultAudience string
	// DefaultTokenExpiration is the token lifetime in seconds when neither
	// the ServiceAccount nor the pod sets one (upstream's --token-expiration).
	// Defaults to 86400; values below 600 are raised to 600, as upstream's
	// main.go does.
	DefaultTokenExpiration int64
	// RegionalSTS injects AWS_STS_REGIONAL_ENDPOINTS=regional for
	// ServiceAccounts without an eks.amazonaws.com/sts-regional-endpoints
	// annotation (upstream's --sts-regional-endpoint). Defaults to false.
	RegionalSTS bool
	// Client reads ServiceAccounts (list/watch for the cache, get for the
	// lookup). Required.
	Client kubernetes.Interface
	// Logger receives one line per admission decision. Defaults to discard.
	Logger *slog.Logger
	// LookupTimeout bounds the wait for a ServiceAccount missing from the
	// cache (API GET or watch, whichever answers first). Defaults to
	// DefaultLookupTimeout.
	LookupTimeout time.Duration
	// ContainerCredentials configures the EKS Pod Identity mode; off unless
	// its ConfigFile is set.
	ContainerCredentials ContainerCredentialsOptions
}

// ErrNoClient is returned by New when Options.Client is nil.
var ErrNoClient = errors.New("irsawebhook: Options.Client is required")

// normalize fills defaults and validates; the one place options are checked.
func (o Options) normalize() (Options, error) {
	if o.Client == nil {
		return o, ErrNoClient
	}
	if o.DefaultAudience == "" {
		o.DefaultAudience = DefaultAudience
	}
	if o.DefaultTokenExpiration == 0 {
		o.DefaultTokenExpiration = DefaultTokenExpiration
	}
	o.DefaultTokenExpiration = max(o.DefaultTokenExpiration, MinTokenExpiration)
	if o.LookupTimeout <= 0 {
		o.LookupTimeout = DefaultLookupTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cc := &o.ContainerCredentials
	for _, d := range []struct {
		v   *string
		def string
	}{{&cc.Audience, DefaultContainerCredentialsAudience}, {&cc.MountPath, DefaultContainerCredentialsMountPath},
		{&cc.VolumeName, DefaultContainerCredentialsVolumeName}, {&cc.TokenPath, DefaultContainerCredentialsTokenPath},
		{&cc.FullURI, DefaultContainerCredentialsFullURI}} {
		if *d.v == "" {
			*d.v = d.def
		}
	}
	if cc.Rand == nil {
		cc.Rand = rand.Int64N
	}
	return o, nil
}
