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
	"github.com/idlab/idlab/internal/httplimit"
)

// IMDSConfig is the EC2 instance metadata of one lab node (an "instance"),
// served over plain HTTP as IMDS is. The node's iptables send its own
// processes' 169.254.169.254:80 traffic to Port, and its containers'
// traffic (one bridge hop further) to BridgePort, where the hop counts one
// more: the lab's stand-in for the IP TTL the hop limit is about.
type IMDSConfig struct {
	Name       string `yaml:"name" json:"name"` // the node, e.g. the cluster "eks"; names the admin path
	Port       int    `yaml:"port" json:"port"`
	BridgePort int    `yaml:"bridgePort" json:"bridgePort"`
	RoleARN    string `yaml:"role,omitempty" json:"role,omitempty"` // the instance profile's role; "" for none
	InstanceID string `yaml:"instanceId,omitempty" json:"instanceId,omitempty"`
	Region     string `yaml:"region,omitempty" json:"region,omitempty"`
	HopLimit   int    `yaml:"hopLimit,omitempty" json:"hopLimit,omitempty"`   // HttpPutResponseHopLimit
	RequireV2  bool   `yaml:"requireV2,omitempty" json:"requireV2,omitempty"` // HttpTokens=required
}

// ParseIMDSFlag reads the serve flag's form of an IMDSConfig:
//
//	name=eks,port=8081,bridge-port=8082,role=ARN,instance-id=i-...,region=us-west-2,hop-limit=2,http-tokens=required
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
	for _, p := range []int{c.Port, c.BridgePort} {
		if p < 1 || p > 65535 {
			return c, fmt.Errorf("imds %q: port and bridge-port must be between 1 and 65535", s)
		}
	}
	return c, nil
}

// String is the flag form ParseIMDSFlag reads.
func (c IMDSConfig) String() string {
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
	handler *awsimds.Handler
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
		h, err := awsimds.New(awsimds.Options{IAM: c.IAM, Now: c.Clock.Now, Logger: c.log.With("emulator", "imds", "node", ic.Name),
			RoleARN: ic.RoleARN, InstanceID: ic.InstanceID, Region: ic.Region, HopLimit: ic.HopLimit, RequireV2: ic.RequireV2})
		if err != nil {
			return fmt.Errorf("imds %s: %w", ic.Name, err)
		}
		c.imds[ic.Name] = &imdsNode{cfg: ic, handler: h}
	}
	return nil
}

// IMDS returns the named instance's metadata handler, or nil.
func (c *Cloud) IMDS(name string) *awsimds.Handler {
	if n := c.imds[name]; n != nil {
		return n.handler
	}
	return nil
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
		for _, lp := range []struct {
			port int
			h    http.Handler
		}{{n.cfg.Port, n.handler}, {n.cfg.BridgePort, awsimds.AddHop(n.handler)}} {
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
// EC2's ModifyInstanceMetadataOptions does on a running instance.
const IMDSAdminPrefix = "/_idlab/imds/"

func (c *Cloud) serveIMDSAdmin(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, IMDSAdminPrefix)
	n := c.imds[name]
	if n == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "NotFound", "message": "no instance metadata for node " + strconv.Quote(name)})
		return
	}
	n.handler.AdminHandler().ServeHTTP(w, r)
}
