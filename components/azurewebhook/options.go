package azurewebhook

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
)

// Labels, annotations, names and limits of the upstream webhook
// (pkg/webhook/consts.go at v1.6.0).
const (
	UseLabel                     = "azure.workload.identity/use"
	ClientIDAnnotation           = "azure.workload.identity/client-id"
	TenantIDAnnotation           = "azure.workload.identity/tenant-id"
	TokenExpirationAnnotation    = "azure.workload.identity/service-account-token-expiration"
	SkipContainersAnnotation     = "azure.workload.identity/skip-containers"
	InjectProxySidecarAnnotation = "azure.workload.identity/inject-proxy-sidecar"
	ProxySidecarPortAnnotation   = "azure.workload.identity/proxy-sidecar-port"

	ClientIDEnv           = "AZURE_CLIENT_ID"
	TenantIDEnv           = "AZURE_TENANT_ID"
	FederatedTokenFileEnv = "AZURE_FEDERATED_TOKEN_FILE"
	AuthorityHostEnv      = "AZURE_AUTHORITY_HOST"

	// DefaultAudience is the projected token's audience (upstream's
	// --audience default).
	DefaultAudience      = "api://AzureADTokenExchange"
	DefaultAuthorityHost = "https://login.microsoftonline.com/"
	// DefaultCloud is upstream's AZURE_ENVIRONMENT default.
	DefaultCloud = "AzurePublicCloud"

	DefaultTokenExpiration int64 = 3600
	MinTokenExpiration     int64 = 3600
	MaxTokenExpiration     int64 = 86400

	// The proxy sidecar: its containers, port and images (upstream's
	// Makefile builds the webhook with REGISTRY and IMAGE_VERSION as the
	// proxy images' registry and tag).
	ProxyInitContainerName          = "azwi-proxy-init"
	ProxySidecarContainerName       = "azwi-proxy"
	ProxyPortEnv                    = "PROXY_PORT"
	DefaultProxySidecarPort   int32 = 8000
	ProxyImageRegistry              = "mcr.microsoft.com/oss/azure/workload-identity"

	// DefaultLookupTimeout bounds the API GET of a ServiceAccount missing
	// from the cache.
	DefaultLookupTimeout = 3 * time.Second
)

// authorityHosts are the clouds upstream names in AZURE_ENVIRONMENT (the
// go-autorest environments, matched without regard to case), with their
// Entra ID endpoints.
var authorityHosts = map[string]string{
	"AZURECHINACLOUD":        "https://login.chinacloudapi.cn/",
	"AZUREGERMANCLOUD":       "https://login.microsoftonline.de/",
	"AZURECLOUD":             DefaultAuthorityHost,
	"AZUREPUBLICCLOUD":       DefaultAuthorityHost,
	"AZUREUSGOVERNMENT":      "https://login.microsoftonline.us/",
	"AZUREUSGOVERNMENTCLOUD": "https://login.microsoftonline.us/",
}

// ErrUnknownCloud is returned for an Options.Cloud upstream does not know.
var ErrUnknownCloud = errors.New("unknown cloud environment")

// cloudAuthorityHost is AZURE_AUTHORITY_HOST for cloud, "" meaning the
// public cloud, as upstream's getAzureAuthorityHost.
func cloudAuthorityHost(cloud string) (string, error) {
	if cloud == "" {
		return DefaultAuthorityHost, nil
	}
	host, ok := authorityHosts[strings.ToUpper(cloud)]
	if !ok {
		return "", fmt.Errorf("%w: there is no cloud environment matching the name %q", ErrUnknownCloud, strings.ToUpper(cloud))
	}
	return host, nil
}

// Options configures a Handler and MutatePod.
type Options struct {
	// Release is the upstream release whose pod layout the webhook
	// produces. Defaults to DefaultRelease.
	Release Release
	// TenantID is injected as AZURE_TENANT_ID for ServiceAccounts without a
	// tenant-id annotation (upstream's AZURE_TENANT_ID config). Defaults to "".
	TenantID string
	// Cloud names the Azure cloud whose Entra endpoint is injected as
	// AZURE_AUTHORITY_HOST (upstream's AZURE_ENVIRONMENT). Defaults to
	// DefaultCloud.
	Cloud string
	// AuthorityHost, when set, is injected instead of Cloud's endpoint (the
	// lab's own setting; upstream derives it from the cloud only).
	AuthorityHost string
	// Audience of the projected token (upstream's --audience). Defaults to
	// DefaultAudience.
	Audience string
	// ProxyImage and ProxyInitImage are the proxy sidecar's images
	// (upstream's PROXY_IMAGE, PROXY_INIT_IMAGE). Default to
	// ProxyImageRegistry/proxy:RELEASE and ProxyImageRegistry/proxy-init:RELEASE.
	ProxyImage, ProxyInitImage string
	// ProxyLogLevel is the proxy sidecar's --log-level, upstream's webhook's
	// own log level. Defaults to "" (upstream's unset level).
	ProxyLogLevel string
	// NativeSidecar puts the proxy sidecar among the init containers with
	// restartPolicy Always. Nil lets New ask the API server, as upstream:
	// true from Kubernetes 1.32. MutatePod takes nil as false.
	NativeSidecar *bool
	// Client reads ServiceAccounts (list/watch and get) and the server
	// version. Required by New.
	Client kubernetes.Interface
	// Logger receives one line per admission decision. Defaults to discard.
	Logger *slog.Logger
}

// ErrNoClient is returned by New when Options.Client is nil.
var ErrNoClient = errors.New("azurewebhook: Options.Client is required")

// withDefaults fills the defaults MutatePod needs and checks the release and
// the cloud.
func (o Options) withDefaults() (Options, error) {
	if o.Release == "" {
		o.Release = DefaultRelease
	}
	if !o.Release.known() {
		return o, fmt.Errorf("azurewebhook: %w %q (want %s or %s)", ErrUnknownRelease, o.Release, Release160, Release151)
	}
	if o.AuthorityHost == "" {
		host, err := cloudAuthorityHost(o.Cloud)
		if err != nil {
			return o, fmt.Errorf("azurewebhook: %w", err)
		}
		o.AuthorityHost = host
	}
	if o.Audience == "" {
		o.Audience = DefaultAudience
	}
	if o.ProxyImage == "" {
		o.ProxyImage = ProxyImageRegistry + "/proxy:" + string(o.Release)
	}
	if o.ProxyInitImage == "" {
		o.ProxyInitImage = ProxyImageRegistry + "/proxy-init:" + string(o.Release)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
