package idlab

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	_ "embed"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/testcontainers/testcontainers-go"
)

// dockerfile is the emulator image's recipe (Dockerfile beside this file),
// the one `make image` builds.
//
//go:embed Dockerfile
var dockerfile []byte

// BuildImage builds the emulator image tag (DefaultImage, say) from the
// Dockerfile beside this package and a static idlab binary
// (CGO_ENABLED=0 go build ./cmd/idlab), as `make image` does. It pulls
// nothing. Build output goes to log (nil: discarded).
func BuildImage(ctx context.Context, binary, tag string, log io.Writer) error {
	repo, version, ok := splitTag(tag)
	if !ok {
		return fmt.Errorf("idlab: image tag %q: want REPOSITORY:TAG", tag)
	}
	archive, err := buildContext(binary)
	if err != nil {
		return fmt.Errorf("idlab: %w", err)
	}
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return fmt.Errorf("idlab: docker: %w", err)
	}
	defer p.Close()
	if log == nil {
		log = io.Discard
	}
	_, err = p.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		ContextArchive: bytes.NewReader(archive), Repo: repo, Tag: version, KeepImage: true, BuildLogWriter: log}})
	if err != nil {
		return fmt.Errorf("idlab: build image %s: %w", tag, err)
	}
	return nil
}

// splitTag splits REPOSITORY:TAG at the last colon after the last slash
// (a registry host may carry a port).
func splitTag(ref string) (repo, tag string, ok bool) {
	i := strings.LastIndex(ref, ":")
	if i <= 0 || i == len(ref)-1 || strings.Contains(ref[i:], "/") {
		return "", "", false
	}
	return ref[:i], ref[i+1:], true
}

// buildContext is the image's build context as a tar: the Dockerfile and
// the binary as ./idlab. The binary must be static: the image has no
// dynamic loader.
func buildContext(binary string) ([]byte, error) {
	if err := checkStatic(binary); err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, dockerfile}, {"idlab", 0o755, raw}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// checkStatic fails for a binary that is not an ELF executable without an
// interpreter (which FROM scratch lacks).
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("idlab binary %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("idlab binary %s is dynamically linked; build it with CGO_ENABLED=0 so it runs FROM scratch", path)
		}
	}
	return nil
}
