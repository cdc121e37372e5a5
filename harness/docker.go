package harness

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// ErrNoDocker means no Docker daemon answered.
var ErrNoDocker = errors.New("no Docker daemon answers `docker info` (run hack/setup-host.sh, which installs and starts one)")

// docker runs the docker CLI and returns its trimmed stdout.
func docker(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &out, &errb, stdin
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// containerLogs is the tail of a container's stdout and stderr together:
// `idlab serve` reports a fatal error on stderr, and a crash-looping
// emulator says why only there.
func containerLogs(ctx context.Context, name string, tail int) string {
	out, err := exec.CommandContext(ctx, "docker", "logs", "--tail", strconv.Itoa(tail), name).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(docker logs %s: %v) %s", name, err, out)
	}
	return strings.TrimSpace(string(out))
}

func checkDocker(ctx context.Context) error {
	if _, err := exec.LookPath("docker"); err != nil {
		return ErrNoDocker
	}
	if _, err := docker(ctx, nil, "info", "--format", "{{.ServerVersion}}"); err != nil {
		return fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	return nil
}

// isStatic reports whether an ELF binary has no interpreter (runs FROM scratch).
func isStatic(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, fmt.Errorf("inspect %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// scratchImage imports a FROM-scratch image holding one static binary at
// /NAME with that entrypoint, tagged by the binary's hash, unless present.
func scratchImage(ctx context.Context, repo, binary, name string) (string, error) {
	static, err := isStatic(binary)
	if err != nil {
		return "", err
	}
	if !static {
		return "", fmt.Errorf("%s is dynamically linked; build it with CGO_ENABLED=0 (make build) so it runs in a FROM scratch image", binary)
	}
	raw, err := os.ReadFile(binary)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", binary, err)
	}
	sum := sha256.Sum256(raw)
	ref := repo + ":" + hex.EncodeToString(sum[:6])
	if _, err := docker(ctx, nil, "image", "inspect", "--format", "{{.Id}}", ref); err == nil {
		return ref, nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(raw))}); err != nil {
		return "", err
	}
	if _, err := tw.Write(raw); err != nil {
		return "", err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "tmp/", Mode: 0o1777, Typeflag: tar.TypeDir}); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if _, err := docker(ctx, &buf, "import", "--change", fmt.Sprintf(`ENTRYPOINT ["/%s"]`, name), "-", ref); err != nil {
		return "", fmt.Errorf("build image %s: %w", ref, err)
	}
	return ref, nil
}
