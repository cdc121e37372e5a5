package harness

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/idlab/idlab/harness/labfile"
	"github.com/idlab/idlab/internal/atomicfile"
)

// RememberedLabFile is the copy of the lab file Up keeps in the state dir:
// status, down, e2e and the other lab commands read it when no -f is given,
// so they act on the clusters the lab was brought up with.
const RememberedLabFile = "idlab.yaml"

// LoadLabFile reads the lab file at path into the clusters it declares,
// with what each leaves out filled in as DefaultCluster fills it.
func LoadLabFile(path string) ([]ClusterConfig, error) {
	f, err := labfile.Load(path)
	if err != nil {
		return nil, err
	}
	return ClustersFromLabFile(f)
}

// ClustersFromLabFile turns a parsed lab file into cluster configurations:
// the account, project or tenant, issuer, node role and components the
// cluster leaves out are the lab's, and each component toggle must name a
// component of the cluster's flavour.
func ClustersFromLabFile(f *labfile.File) ([]ClusterConfig, error) {
	return clustersFrom(f, filepath.Dir(f.Name))
}

// clustersFrom is ClustersFromLabFile with an existing cluster's relative
// kubeconfig path resolved against dir (the lab file's directory, also
// for its remembered copy).
func clustersFrom(f *labfile.File, dir string) ([]ClusterConfig, error) {
	var out []ClusterConfig
	for _, lc := range f.Clusters {
		c := newCluster(lc.Name, lc.Flavour, lc.Region)
		set := func(dst *string, v string) {
			if v != "" {
				*dst = v
			}
		}
		set(&c.Account, lc.Account)
		set(&c.Project, lc.Project)
		set(&c.Tenant, lc.Tenant)
		if c.Flavour == labfile.EKS {
			c.NodeRoleARN = nodeRoleIn(c.Account)
			set(&c.NodeRoleARN, lc.NodeRole)
			if len(lc.NodeRoles) > 0 {
				c.NodeRoleARN, c.NodeRoles = lc.NodeRoles[0], slices.Clone(lc.NodeRoles)
			}
		}
		// One node is the zero value, as in a hand-made ClusterConfig.
		if lc.Nodes > 1 {
			c.Nodes = lc.Nodes
		}
		c.PinnedWorkers = lc.PinnedWorkers
		c.IssuerURL = defaultIssuer(c)
		set(&c.IssuerURL, lc.Issuer)
		comps, err := toggleComponents(c.Flavour, lc.Components)
		if err != nil {
			var le *labfile.Error
			if errors.As(err, &le) {
				le.File = f.Name
				le.Msg = fmt.Sprintf("cluster %q: %s", c.Name, le.Msg)
			}
			return nil, err
		}
		c.Components = comps
		if lc.Kubeconfig != "" {
			if c, err = existingFromLabFile(c, lc, dir); err != nil {
				var le *labfile.Error
				if errors.As(err, &le) {
					le.File = f.Name
				}
				return nil, err
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// existingFromLabFile makes c an existing cluster: its kubeconfig
// (absolute, relative paths from dir), context and kind name; no lab
// issuer or node role; of its components only ExistingComponents, a
// toggle turning another on being an error at its line.
func existingFromLabFile(c ClusterConfig, lc labfile.Cluster, dir string) (ClusterConfig, error) {
	c.Kubeconfig, c.Context, c.KindCluster = lc.Kubeconfig, lc.Context, lc.KindCluster
	if !filepath.IsAbs(c.Kubeconfig) {
		c.Kubeconfig = filepath.Join(dir, c.Kubeconfig)
	}
	if abs, err := filepath.Abs(c.Kubeconfig); err == nil {
		c.Kubeconfig = abs
	}
	c.IssuerURL, c.NodeRoleARN = "", ""
	for _, t := range lc.Components {
		if t.On && !slices.Contains(ExistingComponents(), t.Name) {
			return c, &labfile.Error{Line: t.Line, Msg: fmt.Sprintf("cluster %q: component %s needs the lab's own nodes; an existing cluster runs %s only",
				c.Name, t.Name, strings.Join(ExistingComponents(), ", "))}
		}
	}
	c.Components = slices.DeleteFunc(c.Components, func(n string) bool { return !slices.Contains(ExistingComponents(), n) })
	return c, nil
}

// toggleComponents applies a cluster's component toggles to its flavour's
// defaults; the result is in deployment order.
func toggleComponents(flavour string, toggles []labfile.Toggle) ([]string, error) {
	on := map[string]bool{}
	for _, n := range defaultComponents(flavour) {
		on[n] = true
	}
	var known []string
	for _, c := range components() {
		known = append(known, c.Name())
	}
	for _, t := range toggles {
		i := slices.Index(known, t.Name)
		if i < 0 {
			return nil, &labfile.Error{Line: t.Line, Msg: fmt.Sprintf("component %q: want one of %s", t.Name, strings.Join(known, ", "))}
		}
		if fl := components()[i].Cluster(); t.On && fl != "" && fl != flavour {
			return nil, &labfile.Error{Line: t.Line, Msg: fmt.Sprintf("component %s runs in %s clusters, not %s", t.Name, fl, flavour)}
		}
		on[t.Name] = t.On
	}
	if on[ComponentPodIdentity] && !on[ComponentIRSAWebhook] {
		line := 0
		for _, t := range toggles {
			if t.Name == ComponentIRSAWebhook || t.Name == ComponentPodIdentity {
				line = t.Line
			}
		}
		return nil, &labfile.Error{Line: line, Msg: fmt.Sprintf("component %s needs %s, whose webhook injects the container credentials", ComponentPodIdentity, ComponentIRSAWebhook)}
	}
	out := []string{}
	for _, n := range known {
		if on[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// RememberedLab reads the lab file Up remembered in stateDir; ok is false
// when the lab there is the default one (or none is up).
func RememberedLab(stateDir string) (clusters []ClusterConfig, source string, ok bool, err error) {
	p := filepath.Join(stateDir, RememberedLabFile)
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return nil, "", false, nil
	}
	f, err := labfile.Load(p)
	if err != nil {
		return nil, "", false, fmt.Errorf("the lab file remembered in %s: %w", stateDir, err)
	}
	source, _ = rememberedSource(p)
	clusters, err = clustersFrom(f, filepath.Dir(source))
	if err != nil {
		return nil, "", false, err
	}
	return clusters, source, true, nil
}

// rememberedHeader starts the remembered copy; the path follows it.
const rememberedHeader = "# idlab: the lab file this lab was brought up from, copied by idlab up from "

// rememberLabFile copies the lab file into the state dir, or, for the
// default lab, removes an earlier copy.
func (l *Lab) rememberLabFile() error {
	p := filepath.Join(l.cfg.StateDir, RememberedLabFile)
	if l.cfg.LabFile == "" {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("forget the lab file: %w", err)
		}
		return nil
	}
	src, err := filepath.Abs(l.cfg.LabFile)
	if err != nil {
		return err
	}
	if filepath.Clean(src) == filepath.Clean(p) {
		return nil // brought up again from its own copy
	}
	raw, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("lab file: %w", err)
	}
	if err := os.MkdirAll(l.cfg.StateDir, 0o755); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	out := append([]byte(rememberedHeader+src+"\n"), raw...)
	if err := atomicfile.Write(p, out, 0o644); err != nil {
		return fmt.Errorf("remember the lab file: %w", err)
	}
	return nil
}

// rememberedSource reads the original path from a remembered copy's first
// line.
func rememberedSource(p string) (string, error) {
	raw, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	first, _, _ := strings.Cut(string(raw), "\n")
	src, ok := strings.CutPrefix(first, rememberedHeader)
	if !ok {
		return p, nil
	}
	return src, nil
}

// awsRegion is the emulator's default AWS region: the first eks cluster's,
// else LabRegion.
func (c Config) awsRegion() string {
	for _, cl := range c.Clusters {
		if cl.Flavour == labfile.EKS {
			return cl.Region
		}
	}
	return LabRegion
}

// issuerZones are the DNS names cluster DNS must send to the emulator
// beyond the registered services' zones: the host of every issuer no zone
// covers (a lab file may name any issuer host).
func (c Config) issuerZones(zones []string) []string {
	out := slices.Clone(zones)
	for _, cl := range c.Clusters {
		host := issuerHost(cl.IssuerURL)
		if host == "" || covered(host, out) {
			continue
		}
		out = append(out, host)
	}
	return out
}

// issuerHost is the lower-case host of an issuer URL ("" when it has none).
func issuerHost(issuer string) string {
	rest, ok := strings.CutPrefix(issuer, "https://")
	if !ok {
		return ""
	}
	host, _, _ := strings.Cut(rest, "/")
	return strings.ToLower(host)
}

// covered reports whether a zone of zones holds host.
func covered(host string, zones []string) bool {
	for _, z := range zones {
		if host == z || strings.HasSuffix(host, "."+z) {
			return true
		}
	}
	return false
}
