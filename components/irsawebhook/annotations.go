package irsawebhook

import (
	"encoding/csv"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Annotation keys, upstream's pkg/annotations under the eks.amazonaws.com
// domain.
const (
	AnnotationRoleARN         = "eks.amazonaws.com/role-arn"
	AnnotationAudience        = "eks.amazonaws.com/audience"
	AnnotationRegionalSTS     = "eks.amazonaws.com/sts-regional-endpoints"
	AnnotationTokenExpiration = "eks.amazonaws.com/token-expiration"
	AnnotationSkipContainers  = "eks.amazonaws.com/skip-containers"
	// LabelSkipWebhook on a pod keeps the API server from calling the
	// webhook at all (Config's objectSelector).
	LabelSkipWebhook = "eks.amazonaws.com/skip-pod-identity-webhook"
)

// MinTokenExpiration is the shortest token lifetime, kube-apiserver's minimum
// for a projected token: shorter values are raised to it and there is no
// ceiling, as upstream's pkg.ValidateMinTokenExpiration (pkg/validation.go at
// aws/amazon-eks-pod-identity-webhook@3bf80a3).
const MinTokenExpiration = int64(600)

// roleARNPattern is upstream's sanity check; a mismatch is only logged.
var roleARNPattern = regexp.MustCompile(`^arn:aws[a-z0-9-]*:iam::\d{12}:role/[\w/.@+=,-]+$`)

// serviceAccountConfig is what a ServiceAccount's annotations ask for, with
// the webhook's defaults filled in (upstream's cache.Entry).
type serviceAccountConfig struct {
	RoleARN         string
	Audience        string
	RegionalSTS     bool
	TokenExpiration int64
}

// parseServiceAccount reads sa's eks.amazonaws.com annotations over opts'
// defaults. Unparsable values fall back to the default, as upstream.
func parseServiceAccount(sa *corev1.ServiceAccount, opts Options) serviceAccountConfig {
	c := serviceAccountConfig{
		RoleARN:         sa.Annotations[AnnotationRoleARN],
		Audience:        opts.DefaultAudience,
		RegionalSTS:     opts.RegionalSTS,
		TokenExpiration: opts.DefaultTokenExpiration,
	}
	if aud, ok := sa.Annotations[AnnotationAudience]; ok {
		c.Audience = aud
	}
	if v, ok := sa.Annotations[AnnotationRegionalSTS]; ok {
		if b, err := strconv.ParseBool(v); err == nil {
			c.RegionalSTS = b
		}
	}
	if v, ok := sa.Annotations[AnnotationTokenExpiration]; ok {
		if exp, ok := parseTokenExpiration(v); ok {
			c.TokenExpiration = exp
		}
	}
	return c
}

// parseTokenExpiration parses a token-expiration annotation value and raises
// it to at least MinTokenExpiration; ok is false when v is not a base-10
// integer.
func parseTokenExpiration(v string) (int64, bool) {
	exp, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false
	}
	return max(exp, MinTokenExpiration), true
}

// podAnnotations is what a pod's own annotations change.
type podAnnotations struct {
	// TokenExpiration overrides the ServiceAccount's when set.
	TokenExpiration *int64
	// SkipContainers holds container names to leave alone.
	SkipContainers map[string]bool
	// SkipErr is why skip-containers could not be read (then nothing is
	// skipped, as upstream).
	SkipErr error
}

// parsePodAnnotations reads the pod-level eks.amazonaws.com annotations.
func parsePodAnnotations(pod *corev1.Pod) podAnnotations {
	var a podAnnotations
	if v, ok := pod.Annotations[AnnotationTokenExpiration]; ok {
		if exp, ok := parseTokenExpiration(v); ok {
			a.TokenExpiration = &exp
		}
	}
	if v, ok := pod.Annotations[AnnotationSkipContainers]; ok {
		// Upstream reads one CSV record: no trimming, quotes allowed, a
		// malformed or empty value skips nothing.
		names, err := csv.NewReader(strings.NewReader(v)).Read()
		if err != nil {
			a.SkipErr = err
		} else {
			a.SkipContainers = make(map[string]bool, len(names))
			for _, n := range names {
				a.SkipContainers[n] = true
			}
		}
	}
	return a
}
