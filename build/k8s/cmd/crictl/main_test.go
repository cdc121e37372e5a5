package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestGRPCTarget(t *testing.T) {
	require.Equal(t, "unix:/run/containerd/containerd.sock", grpcTarget("unix:///run/containerd/containerd.sock"))
	require.Equal(t, "unix:/x.sock", grpcTarget("/x.sock"))
	require.Equal(t, "localhost:1234", grpcTarget("localhost:1234"))
}

func TestParseFlags(t *testing.T) {
	f, err := parseFlags([]string{"-a", "-q", "-o", "json", "img"})
	require.NoError(t, err)
	require.Equal(t, flags{all: true, quiet: true, output: "json", rest: []string{"img"}}, f)
	_, err = parseFlags([]string{"--bogus"})
	require.ErrorIs(t, err, errUsage)
	_, err = parseFlags([]string{"-o", "yaml"})
	require.ErrorIs(t, err, errUsage)
}

// kind reads .status.id and .status.repoTags from `crictl inspecti`.
func TestInspectiShape(t *testing.T) {
	var buf bytes.Buffer
	c := &client{out: &buf}
	img := &runtimeapi.Image{Id: "sha256:abc", RepoTags: []string{"docker.io/x/y:1"}, Size: 3}
	require.NoError(t, c.printVerbose(img, map[string]string{"info": `{"a":1}`, "raw": "text"}))
	var got struct {
		Status struct {
			ID       string   `json:"id"`
			RepoTags []string `json:"repoTags"`
		} `json:"status"`
		Info map[string]any `json:"info"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
	require.Equal(t, "sha256:abc", got.Status.ID)
	require.Equal(t, []string{"docker.io/x/y:1"}, got.Status.RepoTags)
	require.Equal(t, map[string]any{"a": float64(1)}, got.Info["info"])
	require.Equal(t, "text", got.Info["raw"])
}

func TestHelpers(t *testing.T) {
	repo, tag := splitTag("registry.k8s.io/pause:3.10.1")
	require.Equal(t, []string{"registry.k8s.io/pause", "3.10.1"}, []string{repo, tag})
	repo, tag = splitTag("localhost:5000/x")
	require.Equal(t, []string{"localhost:5000/x", "<none>"}, []string{repo, tag})
	require.Equal(t, "0123456789abc", shortID("sha256:0123456789abcdef"))
	require.Equal(t, "1.62MB", humanSize(1_618_082))
}

func TestUsageExitCodes(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, 2, run(nil, &out, &errb))
	require.Equal(t, 0, run([]string{"--help"}, &out, &errb))
	require.Equal(t, 2, run([]string{"--nope"}, &out, &errb))
}
