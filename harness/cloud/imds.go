package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/idlab/idlab/emulators/awsimds"
	"github.com/idlab/idlab/emulators/azurearm"
	"github.com/idlab/idlab/emulators/azureimds"
	"github.com/idlab/idlab/emulators/entra"
	"github.com/idlab/idlab/internal/httplimit"
)

// IMDSConfig is the instance metadata of one lab node (an EC2 "instance"
// or an Azure VM), served over plain HTTP as IMDS is. The node's iptables
// send its own processes' 169.254.169.254:80 traffic to Port, and its
// containers' traffic (one bridge hop further) to BridgePort, where for
// EC2 the hop counts one more: the lab's stand-in for the IP TTL the hop
// limit is about (Azure's IMDS has no hop limit: both ports are alike).
type IMDSConfig struct {
	Name string `yaml:"name" json:"name"` // the node, e.g. the cluster "eks"; names the admin path
	// Cloud is aws (EC2 metadata, emulators/awsimds; the default) or azure
	// (the managed-identity token endpoint, emulators/azureimds, with the
	// identities Entra's fixtures define).
	Cloud      string `yaml:"cloud,omitempty" json:"cloud,omitempty"`
	Port       int    `yaml:"port" json:"port"`
	BridgePort int    `yaml:"bridgePort" json:"bridgePort"`
	RoleARN    string `yaml:"role,omitempty" json:"role,omitempty"` // the instance profile's role; "" for none
	InstanceID string `yaml:"instanceId,omitempty" json:"instanceId,omitempty"`
	Region     string `yaml:"region,omitempty" json:"region,omitempty"`
	HopLimit   int    `yaml:"hopLimit,omitempty" json:"hopLimit,omitempty"`   // HttpPutResponseHopLimit
	RequireV2  bool   `yaml:"requireV2,omitempty" json:"requireV2,omitempty"` // HttpTokens=required
	// VM names an Azure node's virtual machine (scale-set instance
	// NAME_N of scale set NAME).
	VM string `yaml:"vm,omitempty" json:"vm,omitempty"`
	// ResourceGroup is an Azure node's scale set's resource group (AKS's
	// node resource group MC_...); with it, Resource Manager serves the
	// scale set (emulators/azurearm), whose identities are the node's.
	ResourceGroup string `yaml:"resourceGroup,omitempty" json:"resourceGroup,omitempty"`
	// Identities are the resource IDs of the user-assigned identities an
	// Azure node has from the start (AKS's kubelet identity).
	Identities []string `yaml:"identities,omitempty" json:"identities,omitempty"`
}

// IMDS clouds of IMDSConfig.Cloud.
const (
	IMDSCloudAWS   = "aws"
	IMDSCloudAzure = "azure"
)

// ParseIMDSFlag reads the serve flag's form of an IMDSConfig:
//
//	name=eks,port=8081,bridge-port=8082,role=ARN,instance-id=i-...,region=us-west-2,hop-limit=2,http-tokens=required
//	name=aks,cloud=azure,port=8083,bridge-port=8084,vm=aks-nodepool1-vmss_0,resource-group=MC_rg,identity=ID,identity=ID2
func ParseIMDSFlag(s string) (IMDSConfig, error) {
	var c IMDSConfig
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return c, fmt.Errorf("imds %q: %q is not key=value", s, kv)
		}
		var err error
		switch k {
		case "name":
			c.Name = v
		case "cloud":
			if v != IMDSCloudAWS && v != IMDSCloudAzure {
				err = errors.New("want aws or azure")
			}
			c.Cloud = v
		case "vm":
			c.VM = v
		case "resource-group":
			c.ResourceGroup = v
		case "identity":
			c.Identities = append(c.Identities, v)
		case "port":
			c.Port, err = strconv.Atoi(v)
		case "bridge-port":
			c.BridgePort, err = strconv.Atoi(v)
		case "role":
			c.RoleARN = v
		case "instance-id":
			c.InstanceID = v
		case "region":
			c.Region = v
		case "hop-limit":
			c.HopLimit, err = strconv.Atoi(v)
		case "http-tokens":
			switch v {
			case "required":
				c.RequireV2 = true
			case "optional":
			default:
				err = errors.New("want required or optional")
			}
		default:
			return c, fmt.Errorf("imds %q: unknown key %q", s, k)
		}
		if err != nil {
			return c, fmt.Errorf("imds %q: %s: %w", s, k, err)
		}
	}
	if c.Name == "" || strings.ContainsAny(c.Name, "/?#") {
		return c, fmt.Errorf("imds %q: name is required and must be a plain word", s)
	}
	if c.Cloud != IMDSCloudAzure && (c.ResourceGroup != "" || len(c.Identities) > 0) {
		return c, fmt.Errorf("imds %q: resource-group and identity are an azure node's", s)
	}
	if c.Cloud == IMDSCloudAzure && (c.RoleARN != "" || c.InstanceID != "" || c.HopLimit != 0 || c.RequireV2) {
		return c, fmt.Errorf("imds %q: role, instance-id, hop-limit and http-tokens are EC2's; an azure node has none", s)
	}
	for _, p := range []int{c.Port, c.BridgePort} {
		if p < 1 || p > 65535 {
			return c, fmt.Errorf("imds %q: port and bridge-port must be between 1 and 65535", s)
		}
	}
	return c, nil
}

// String is the flag form ParseIMDSFlag reads.
func (c IMDSConfig) String() string {
	if c.Cloud == IMDSCloudAzure {
		s := fmt.Sprintf("name=%s,cloud=azure,port=%d,bridge-port=%d", c.Name, c.Port, c.BridgePort)
		if c.VM != "" {
			s += ",vm=" + c.VM
		}
		if c.ResourceGroup != "" {
			s += ",resource-group=" + c.ResourceGroup
		}
		for _, id := range c.Identities {
			s += ",identity=" + id
		}
		return s
	}
	tokens := "optional"
	if c.RequireV2 {
		tokens = "required"
	}
	s := fmt.Sprintf("name=%s,port=%d,bridge-port=%d", c.Name, c.Port, c.BridgePort)
	for _, kv := range [][2]string{{"role", c.RoleARN}, {"instance-id", c.InstanceID}, {"region", c.Region}} {
		if kv[1] != "" {
			s += "," + kv[0] + "=" + kv[1]
		}
	}
	if c.HopLimit != 0 {
		s += ",hop-limit=" + strconv.Itoa(c.HopLimit)
	}
	return s + ",http-tokens=" + tokens
}

// imdsNode is one instance's metadata handler and its two listeners.
type imdsNode struct {
	cfg     IMDSConfig
	handler *awsimds.Handler   // EC2's
	azure   *azureimds.Handler // or Azure's
	servers []*http.Server
	urls    []string // http://ADDR of the node port, then the bridge port
}

// newIMDS builds the instances' handlers on the lab's IAM and clock.
func (c *Cloud) newIMDS() error {
	c.imds = map[string]*imdsNode{}
	for _, ic := range c.cfg.IMDS {
		if _, dup := c.imds[ic.Name]; dup {
			return fmt.Errorf("imds %s: declared twice", ic.Name)
		}
		if ic.Cloud == IMDSCloudAzure {
			if c.Entra == nil {
				return fmt.Errorf("imds %s: an azure node needs the Entra emulator", ic.Name)
			}
			h, err := azureimds.New(azureimds.Options{Identities: c.Entra, Now: c.Clock.Now, Logger: c.log.With("emulator", "azureimds", "node", ic.Name),
				VM: ic.VM, Decisions: c.Decisions, Assigned: ic.Identities})
			if err != nil {
				return fmt.Errorf("imds %s: %w", ic.Name, err)
			}
			c.imds[ic.Name] = &imdsNode{cfg: ic, azure: h}
			if ic.ResourceGroup != "" && c.ARM != nil {
				if err := c.ARM.AddScaleSet(azurearm.ScaleSet{Subscription: entra.DefaultSubscription, ResourceGroup: ic.ResourceGroup,
					Name: ScaleSetOf(ic.VM), Location: "westus2", Identity: h}); err != nil {
					return fmt.Errorf("imds %s: %w", ic.Name, err)
				}
			}
			continue
		}
		h, err := awsimds.New(awsimds.Options{IAM: c.IAM, Now: c.Clock.Now, Logger: c.log.With("emulator", "imds", "node", ic.Name),
			RoleARN: ic.RoleARN, InstanceID: ic.InstanceID, Region: ic.Region, HopLimit: ic.HopLimit, RequireV2: ic.RequireV2})
		if err != nil {
			return fmt.Errorf("imds %s: %w", ic.Name, err)
		}
		c.imds[ic.Name] = &imdsNode{cfg: ic, handler: h}
	}
	return nil
}

// ScaleSetOf is the scale set of a scale set instance named NAME_N.
func ScaleSetOf(vm string) string {
	if i := strings.LastIndexByte(vm, '_'); i > 0 {
		return vm[:i]
	}
	return vm
}

// IMDS returns the named instance's metadata handler, or nil.
func (c *Cloud) IMDS(name string) *awsimds.Handler {
	if n := c.imds[name]; n != nil {
		return n.handler
	}
	return nil
}

// AzureIMDS returns the named Azure node's metadata handler, or nil.
func (c *Cloud) AzureIMDS(name string) *azureimds.Handler {
	if n := c.imds[name]; n != nil {
		return n.azure
	}
	return nil
}

// listeners are the handlers of the node's port and bridge port.
func (n *imdsNode) listeners() [2]http.Handler {
	if n.azure != nil {
		return [2]http.Handler{n.azure, n.azure}
	}
	return [2]http.Handler{n.handler, awsimds.AddHop(n.handler)}
}

// IMDSURLs are the running instance's node and bridge URLs (port 0 in the
// config picks free ports), or "" before Start.
func (c *Cloud) IMDSURLs(name string) (node, bridge string) {
	if n := c.imds[name]; n != nil && len(n.urls) == 2 {
		return n.urls[0], n.urls[1]
	}
	return "", ""
}

// startIMDS listens on each instance's two plain-HTTP ports.
func (c *Cloud) startIMDS() error {
	for _, n := range c.imds {
		hs := n.listeners()
		for _, lp := range []struct {
			port int
			h    http.Handler
		}{{n.cfg.Port, hs[0]}, {n.cfg.BridgePort, hs[1]}} {
			addr := net.JoinHostPort(c.cfg.Listen, strconv.Itoa(lp.port))
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("imds %s: listen on %s: %w", n.cfg.Name, addr, err)
			}
			n.urls = append(n.urls, "http://"+loopbackAddr(ln.Addr()))
			srv := httplimit.Apply(&http.Server{Handler: lp.h, ErrorLog: slog.NewLogLogger(c.log.Handler(), slog.LevelDebug)})
			n.servers = append(n.servers, srv)
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					c.log.Error("imds serve", "node", n.cfg.Name, "err", err)
				}
			}()
		}
	}
	return nil
}

// closeIMDS stops the instances' listeners.
func (c *Cloud) closeIMDS(ctx context.Context) error {
	var errs []error
	for _, n := range c.imds {
		for _, s := range n.servers {
			errs = append(errs, s.Shutdown(ctx))
		}
	}
	return errors.Join(errs...)
}

// IMDSAdminPrefix is where the instances' metadata options are read
// (GET) and changed (POST ?hop-limit=N&http-tokens=required|optional), as
// EC2's ModifyInstanceMetadataOptions does on a running instance; for an
// Azure node, where its identity property is read (GET) and patched
// (PATCH, ARM's body shape; azureimds.Handler.AdminHandler).
const IMDSAdminPrefix = "/_idlab/imds/"

func (c *Cloud) serveIMDSAdmin(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, IMDSAdminPrefix)
	n := c.imds[name]
	if n == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "NotFound", "message": "no instance metadata for node " + strconv.Quote(name)})
		return
	}
	if n.azure != nil {
		n.azure.AdminHandler().ServeHTTP(w, r)
		return
	}
	n.handler.AdminHandler().ServeHTTP(w, r)
}
