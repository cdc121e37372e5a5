// Command crictl is a small CRI client that stands in for cri-tools' crictl
// (whose module is not served to this lab) inside the idlab kind node image.
//
// It implements the subcommands kind and people debugging a node use, with
// crictl's output shapes and exit codes:
//
//	crictl version
//	crictl info                      runtime status and config (JSON)
//	crictl images [-q] [-o json] [IMAGE]
//	crictl inspecti IMAGE...         image status (JSON: {"status":{"id","repoTags",...}})
//	crictl rmi IMAGE...
//	crictl pull IMAGE
//	crictl ps [-a] [-q] [-o json]
//	crictl pods [-q] [-o json]
//	crictl inspect CONTAINER...      container status (JSON)
//	crictl inspectp POD...           pod sandbox status (JSON)
//
// The endpoint comes from -r/--runtime-endpoint, then $CONTAINER_RUNTIME_ENDPOINT,
// then runtime-endpoint in /etc/crictl.yaml, then containerd's default socket.
// Errors print "crictl: ..." on stderr and exit 1; usage errors exit 2.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const defaultEndpoint = "unix:///run/containerd/containerd.sock"

var errUsage = errors.New("usage")

type client struct {
	rt  runtimeapi.RuntimeServiceClient
	img runtimeapi.ImageServiceClient
	out io.Writer
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	endpoint := ""
	timeout := 30 * time.Second
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		switch {
		case (a == "-r" || a == "--runtime-endpoint" || a == "-i" || a == "--image-endpoint") && len(args) > 1:
			endpoint, args = args[1], args[2:]
		case strings.HasPrefix(a, "--runtime-endpoint="):
			endpoint, args = strings.TrimPrefix(a, "--runtime-endpoint="), args[1:]
		case (a == "-t" || a == "--timeout") && len(args) > 1:
			d, err := time.ParseDuration(args[1])
			if err != nil {
				fmt.Fprintf(stderr, "crictl: bad timeout %q\n", args[1])
				return 2
			}
			timeout, args = d, args[2:]
		case a == "-D" || a == "--debug":
			args = args[1:]
		case a == "-h" || a == "--help":
			usage(stdout)
			return 0
		default:
			fmt.Fprintf(stderr, "crictl: unknown global flag %q\n", a)
			return 2
		}
	}
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if endpoint == "" {
		endpoint = configuredEndpoint()
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := grpc.NewClient(grpcTarget(endpoint), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintf(stderr, "crictl: connect %s: %v\n", endpoint, err)
		return 1
	}
	defer conn.Close()
	c := &client{rt: runtimeapi.NewRuntimeServiceClient(conn), img: runtimeapi.NewImageServiceClient(conn), out: stdout}
	if err := c.dispatch(ctx, args[0], args[1:]); err != nil {
		fmt.Fprintf(stderr, "crictl: %v\n", err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: crictl [-r ENDPOINT] [-t TIMEOUT] version|info|images|inspecti|rmi|pull|ps|pods|inspect|inspectp [args]")
}

// configuredEndpoint reads the endpoint from the environment or /etc/crictl.yaml.
func configuredEndpoint() string {
	if e := os.Getenv("CONTAINER_RUNTIME_ENDPOINT"); e != "" {
		return e
	}
	f, err := os.Open("/etc/crictl.yaml")
	if err != nil {
		return defaultEndpoint
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(k) == "runtime-endpoint" {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return defaultEndpoint
}

// grpcTarget turns unix:///path (crictl's form) into grpc's unix:/path form.
func grpcTarget(endpoint string) string {
	if p, ok := strings.CutPrefix(endpoint, "unix://"); ok {
		return "unix:" + p
	}
	if strings.HasPrefix(endpoint, "/") {
		return "unix:" + endpoint
	}
	return endpoint
}

type flags struct {
	all, quiet bool
	output     string
	rest       []string
}

func parseFlags(args []string) (flags, error) {
	var f flags
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-a" || a == "--all":
			f.all = true
		case a == "-q" || a == "--quiet":
			f.quiet = true
		case (a == "-o" || a == "--output") && i+1 < len(args):
			f.output = args[i+1]
			i++
		case strings.HasPrefix(a, "--output=") || strings.HasPrefix(a, "-o="):
			_, f.output, _ = strings.Cut(a, "=")
		case a == "-v" || a == "--verbose" || a == "--digests" || a == "--no-trunc":
		case strings.HasPrefix(a, "-"):
			return f, fmt.Errorf("%w: unknown flag %q", errUsage, a)
		default:
			f.rest = append(f.rest, a)
		}
	}
	if f.output != "" && f.output != "json" && f.output != "table" {
		return f, fmt.Errorf("%w: unsupported output %q (json or table)", errUsage, f.output)
	}
	return f, nil
}

func (c *client) dispatch(ctx context.Context, cmd string, args []string) error {
	f, err := parseFlags(args)
	if err != nil {
		return err
	}
	switch cmd {
	case "version":
		r, err := c.rt.Version(ctx, &runtimeapi.VersionRequest{})
		if err != nil {
			return fmt.Errorf("version: %w", err)
		}
		fmt.Fprintf(c.out, "Version:  %s\nRuntimeName:  %s\nRuntimeVersion:  %s\nRuntimeApiVersion:  %s\n", r.Version, r.RuntimeName, r.RuntimeVersion, r.RuntimeApiVersion)
		return nil
	case "info":
		r, err := c.rt.Status(ctx, &runtimeapi.StatusRequest{Verbose: true})
		if err != nil {
			return fmt.Errorf("info: %w", err)
		}
		return c.printVerbose(r.Status, r.Info)
	case "images", "image", "img":
		return c.images(ctx, f)
	case "inspecti":
		if len(f.rest) == 0 {
			return fmt.Errorf("%w: inspecti IMAGE...", errUsage)
		}
		for _, ref := range f.rest {
			r, err := c.img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}, Verbose: true})
			if err != nil {
				return fmt.Errorf("image status for %q request: %w", ref, err)
			}
			if r.Image == nil {
				return fmt.Errorf("no such image %q present", ref)
			}
			if err := c.printVerbose(r.Image, r.Info); err != nil {
				return err
			}
		}
		return nil
	case "rmi":
		if len(f.rest) == 0 {
			return fmt.Errorf("%w: rmi IMAGE...", errUsage)
		}
		for _, ref := range f.rest {
			st, err := c.img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
			if err != nil {
				return fmt.Errorf("image status for %q request: %w", ref, err)
			}
			if st.Image == nil {
				return fmt.Errorf("no such image %s", ref)
			}
			if _, err := c.img.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: st.Image.Id}}); err != nil {
				return fmt.Errorf("error of removing image %q: %w", ref, err)
			}
			deleted := st.Image.Id
			if len(st.Image.RepoTags) > 0 {
				deleted = st.Image.RepoTags[0]
			}
			fmt.Fprintf(c.out, "Deleted: %s\n", deleted)
		}
		return nil
	case "pull":
		if len(f.rest) != 1 {
			return fmt.Errorf("%w: pull IMAGE", errUsage)
		}
		r, err := c.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: f.rest[0]}})
		if err != nil {
			return fmt.Errorf("pulling image: %w", err)
		}
		fmt.Fprintf(c.out, "Image is up to date for %s\n", r.ImageRef)
		return nil
	case "ps":
		return c.ps(ctx, f)
	case "pods":
		return c.pods(ctx, f)
	case "inspect":
		for _, id := range f.rest {
			r, err := c.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
			if err != nil {
				return fmt.Errorf("getting the status of the container %q: %w", id, err)
			}
			if err := c.printVerbose(r.Status, r.Info); err != nil {
				return err
			}
		}
		return nil
	case "inspectp":
		for _, id := range f.rest {
			r, err := c.rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id, Verbose: true})
			if err != nil {
				return fmt.Errorf("getting the pod sandbox status for %q: %w", id, err)
			}
			if err := c.printVerbose(r.Status, r.Info); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
	}
}

// printVerbose prints {"status": <proto as JSON>, "info": {k: <JSON or string>}}
// the way crictl's inspect commands do.
func (c *client) printVerbose(status proto.Message, info map[string]string) error {
	raw, err := protojson.MarshalOptions{EmitUnpopulated: false}.Marshal(status)
	if err != nil {
		return err
	}
	out := map[string]any{"status": json.RawMessage(raw)}
	if len(info) > 0 {
		m := map[string]any{}
		for k, v := range info {
			var j any
			if json.Unmarshal([]byte(v), &j) == nil {
				m[k] = j
			} else {
				m[k] = v
			}
		}
		out["info"] = m
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(c.out, string(b))
	return err
}

func (c *client) printJSON(field string, msgs []proto.Message) error {
	items := make([]json.RawMessage, 0, len(msgs))
	for _, m := range msgs {
		raw, err := protojson.Marshal(m)
		if err != nil {
			return err
		}
		items = append(items, raw)
	}
	b, err := json.MarshalIndent(map[string]any{field: items}, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(c.out, string(b))
	return err
}

func (c *client) images(ctx context.Context, f flags) error {
	req := &runtimeapi.ListImagesRequest{}
	if len(f.rest) > 0 {
		req.Filter = &runtimeapi.ImageFilter{Image: &runtimeapi.ImageSpec{Image: f.rest[0]}}
	}
	r, err := c.img.ListImages(ctx, req)
	if err != nil {
		return fmt.Errorf("listing images: %w", err)
	}
	imgs := r.Images
	sort.Slice(imgs, func(i, j int) bool { return strings.Join(imgs[i].RepoTags, ",") < strings.Join(imgs[j].RepoTags, ",") })
	if f.output == "json" {
		msgs := make([]proto.Message, len(imgs))
		for i, im := range imgs {
			msgs[i] = im
		}
		return c.printJSON("images", msgs)
	}
	if f.quiet {
		for _, im := range imgs {
			fmt.Fprintln(c.out, im.Id)
		}
		return nil
	}
	w := tabwriter.NewWriter(c.out, 20, 1, 3, ' ', 0)
	fmt.Fprintln(w, "IMAGE\tTAG\tIMAGE ID\tSIZE")
	for _, im := range imgs {
		tags := im.RepoTags
		if len(tags) == 0 {
			tags = []string{"<none>:<none>"}
		}
		for _, t := range tags {
			repo, tag := splitTag(t)
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", repo, tag, shortID(im.Id), humanSize(im.Size))
		}
	}
	return w.Flush()
}

func (c *client) ps(ctx context.Context, f flags) error {
	req := &runtimeapi.ListContainersRequest{}
	if !f.all {
		req.Filter = &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}}
	}
	r, err := c.rt.ListContainers(ctx, req)
	if err != nil {
		return fmt.Errorf("listing containers: %w", err)
	}
	cs := r.Containers
	sort.Slice(cs, func(i, j int) bool { return cs[i].CreatedAt > cs[j].CreatedAt })
	if f.output == "json" {
		msgs := make([]proto.Message, len(cs))
		for i, x := range cs {
			msgs[i] = x
		}
		return c.printJSON("containers", msgs)
	}
	if f.quiet {
		for _, x := range cs {
			fmt.Fprintln(c.out, x.Id)
		}
		return nil
	}
	w := tabwriter.NewWriter(c.out, 20, 1, 3, ' ', 0)
	fmt.Fprintln(w, "CONTAINER\tIMAGE\tCREATED\tSTATE\tNAME\tATTEMPT\tPOD ID\tPOD")
	for _, x := range cs {
		name, attempt := "", uint32(0)
		if x.Metadata != nil {
			name, attempt = x.Metadata.Name, x.Metadata.Attempt
		}
		image := x.ImageRef
		if x.Image != nil && x.Image.Image != "" {
			image = x.Image.Image
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", shortID(x.Id), shortID(image), age(x.CreatedAt),
			strings.TrimPrefix(x.State.String(), "CONTAINER_"), name, attempt, shortID(x.PodSandboxId), x.Labels["io.kubernetes.pod.name"])
	}
	return w.Flush()
}

func (c *client) pods(ctx context.Context, f flags) error {
	r, err := c.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("listing pod sandboxes: %w", err)
	}
	ps := r.Items
	sort.Slice(ps, func(i, j int) bool { return ps[i].CreatedAt > ps[j].CreatedAt })
	if f.output == "json" {
		msgs := make([]proto.Message, len(ps))
		for i, x := range ps {
			msgs[i] = x
		}
		return c.printJSON("items", msgs)
	}
	if f.quiet {
		for _, x := range ps {
			fmt.Fprintln(c.out, x.Id)
		}
		return nil
	}
	w := tabwriter.NewWriter(c.out, 20, 1, 3, ' ', 0)
	fmt.Fprintln(w, "POD ID\tCREATED\tSTATE\tNAME\tNAMESPACE\tATTEMPT\tRUNTIME")
	for _, x := range ps {
		var name, ns string
		var attempt uint32
		if x.Metadata != nil {
			name, ns, attempt = x.Metadata.Name, x.Metadata.Namespace, x.Metadata.Attempt
		}
		rh := x.RuntimeHandler
		if rh == "" {
			rh = "(default)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", shortID(x.Id), age(x.CreatedAt), strings.TrimPrefix(x.State.String(), "SANDBOX_"), name, ns, attempt, rh)
	}
	return w.Flush()
}

func splitTag(ref string) (repo, tag string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, "<none>"
	}
	return ref[:i], ref[i+1:]
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 13 && !strings.ContainsAny(id, "/:") {
		return id[:13]
	}
	return id
}

func humanSize(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.3gGB", float64(n)/1e9)
	case n >= 1<<20:
		return fmt.Sprintf("%.3gMB", float64(n)/1e6)
	case n >= 1<<10:
		return fmt.Sprintf("%.3gkB", float64(n)/1e3)
	}
	return fmt.Sprintf("%dB", n)
}

func age(nanos int64) string {
	d := time.Since(time.Unix(0, nanos)).Round(time.Second)
	return d.String() + " ago"
}
