package azurewebhook

import (
	"errors"
	"log/slog"
	"time"

	"k8s.io/client-go/kubernetes"
)

// Labels, annotations, names and limits of the upstream webhook.
const (
	UseLabel                           = "azure.workload.identity/use"
	ClientIDAnnotation                 = "azure.workload.identity/client-id"
	TenantIDAnnotation                 = "azure.workload.identity/tenant-id"
	TokenExpirationAnnotation          = "azure.workload.identity/service-account-token-expiration"
	SkipContainersAnnotation           = "azure.workload.identity/skip-containers"
	InjectProxySidecarAnnotation       = "azure.workload.identity/inject-proxy-sidecar"
	ClientIDEnv                        = "AZURE_CLIENT_ID"
	TenantIDEnv                        = "AZURE_TENANT_ID"
	FederatedTokenFileEnv              = "AZURE_FEDERATED_TOKEN_FILE"
	AuthorityHostEnv                   = "AZURE_AUTHORITY_HOST"
	TokenVolumeName                    = "azure-identity-token"
	TokenPath                          = "azure-identity-token"
	TokenMountPath                     = "/var/run/secrets/azure/tokens"
	TokenFile                          = TokenMountPath + "/" + TokenPath
	Audience                           = "api://AzureADTokenExchange"
	DefaultAuthorityHost               = "https://login.microsoftonline.com/"
	DefaultTokenExpiration       int64 = 3600
	MinTokenExpiration           int64 = 3600
	MaxTokenExpiration           int64 = 86400
	// DefaultLookupTimeout bounds the API GET of a ServiceAccount missing
	// from the cache.
	DefaultLookupTimeout = 3 * time.Second
)

// Options configures a Handler.
type Options struct {
	// TenantID is injected as AZURE_TENANT_ID for ServiceAccounts without a
	// tenant-id annotation (upstream's AZURE_TENANT_ID config). Defaults to "".
	TenantID string
	// AuthorityHost is injected as AZURE_AUTHORITY_HOST. Defaults to
	// https://login.microsoftonline.com/ (upstream's public cloud).
	AuthorityHost string
	// Client reads ServiceAccounts (list/watch and get). Required.
	Client kubernetes.Interface
	// Logger receives one line per admission decision. Defaults to discard.
	Logger *slog.Logger
}

// ErrNoClient is returned by New when Options.Client is nil.
var ErrNoClient = errors.New("azurewebhook: Options.Client is required")

func (o Options) normalize() (Options, error) {
	if o.Client == nil {
		return o, ErrNoClient
	}
	if o.AuthorityHost == "" {
		o.AuthorityHost = DefaultAuthorityHost
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
