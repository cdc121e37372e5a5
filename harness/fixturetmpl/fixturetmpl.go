// Package fixturetmpl fills in fixture templates (NAME.tmpl.yaml) with the
// issuers of the lab's clusters, so a trust policy can name an issuer the
// lab learns only when it comes up: an existing cluster's own
// service-account issuer, read from its API server. In a template,
// {{issuer "CLUSTER"}} is the cluster's issuer URL and
// {{issuerHost "CLUSTER"}} the same without https:// and a trailing
// slash, as IAM names an OIDC provider in an ARN and in condition keys
// (arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH, HOST/PATH:sub).
package fixturetmpl

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"text/template"
)

// Suffix marks a fixture template; Render's output is named without it
// (lab.tmpl.yaml -> lab.yaml).
const Suffix = ".tmpl.yaml"

// OutputName is name without the template suffix, and whether it had one.
func OutputName(name string) (string, bool) {
	base, ok := strings.CutSuffix(name, Suffix)
	if !ok {
		return name, false
	}
	return base + ".yaml", true
}

// Render fills in a template named name with issuers (cluster name ->
// issuer URL). A cluster the lab does not have is an error naming the
// ones it has.
func Render(name string, raw []byte, issuers map[string]string) ([]byte, error) {
	lookup := func(cluster string) (string, error) {
		u, ok := issuers[cluster]
		if !ok {
			var have []string
			for n := range issuers {
				have = append(have, n)
			}
			return "", fmt.Errorf("no cluster %q in the lab (it has %s)", cluster, strings.Join(slices.Sorted(slices.Values(have)), ", "))
		}
		return u, nil
	}
	t, err := template.New(name).Option("missingkey=error").Funcs(template.FuncMap{
		"issuer": lookup,
		"issuerHost": func(cluster string) (string, error) {
			u, err := lookup(cluster)
			return strings.TrimSuffix(strings.TrimPrefix(u, "https://"), "/"), err
		},
	}).Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("fixture template %s: %w", name, err)
	}
	var out bytes.Buffer
	if err := t.Execute(&out, nil); err != nil {
		return nil, fmt.Errorf("fixture template %s: %w", name, err)
	}
	return out.Bytes(), nil
}
