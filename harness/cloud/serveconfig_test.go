package cloud

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestServeConfigRoundTrips(t *testing.T) {
	sc := ServeConfig{DataDir: "/data/serve", CADir: "/ca", Fixtures: "/data/fixtures", GCPFixtures: "/data/fixtures-gcp", EKSFixtures: "/data/fixtures-eks",
		AzureFixtures: "/data/fixtures-azure", Issuers: "/data/issuers.yaml", Listen: "0.0.0.0", HTTPSPort: 443, Region: "us-west-2",
		AdminListen: "unix:/data/admin.sock", AdminSecretFile: "/data/admin.secret", LogDecisions: true, Fsync: true,
		IMDS: []IMDSConfig{{Name: "eks", Port: 8081, BridgePort: 8082, RoleARN: "arn:aws:iam::123456789012:role/node", InstanceID: "i-0abc",
			Region: "us-west-2", HopLimit: 1, RequireV2: true}}}
	p := filepath.Join(t.TempDir(), "serve.yaml")
	require.NoError(t, WriteServeConfig(p, sc))
	got, err := LoadServeConfig(p)
	require.NoError(t, err)
	require.Equal(t, sc, got)

	// JSON is read too.
	raw, err := json.Marshal(sc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, raw, 0o644))
	got, err = LoadServeConfig(p)
	require.NoError(t, err)
	require.Equal(t, sc, got)

	require.Equal(t, Config{DataDir: sc.DataDir, CADir: sc.CADir, FixturesDir: sc.Fixtures, GCPFixtures: sc.GCPFixtures, EKSFixtures: sc.EKSFixtures,
		AzureFixtures: sc.AzureFixtures, IssuersFile: sc.Issuers, Listen: sc.Listen, HTTPSPort: 443, Region: "us-west-2", IMDS: sc.IMDS,
		AdminListen: sc.AdminListen, LogDecisions: true, Fsync: true}, sc.Config())
}

func TestParseServeConfig(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      ServeConfig
		err       string
	}{
		{"empty file: the defaults", "", DefaultServeConfig(), ""},
		{"a field over the defaults", "region: eu-west-1\n", func() ServeConfig { c := DefaultServeConfig(); c.Region = "eu-west-1"; return c }(), ""},
		{"port 0 picks a free one", `{"httpsPort": 0}`, func() ServeConfig { c := DefaultServeConfig(); c.HTTPSPort = 0; return c }(), ""},
		{"fsync and decision lines", "fsync: true\nlogDecisions: true\n", func() ServeConfig { c := DefaultServeConfig(); c.Fsync, c.LogDecisions = true, true; return c }(), ""},
		{"fsync not a bool", "fsync: sometimes\n", ServeConfig{}, "cannot unmarshal"},
		{"unknown field", "region: us-west-2\nregoin: x\n", ServeConfig{}, `line 2: unknown field "regoin" (known: dataDir, caDir, fixtures, gcpFixtures, eksFixtures, azureFixtures, issuers, listen, httpsPort, region, adminListen, adminSecretFile, imds, logDecisions, fsync, pprofListen)`},
		{"unknown json field", `{"adminSecret": "x"}`, ServeConfig{}, `line 1: unknown field "adminSecret" (known: dataDir,`},
		{"unknown imds field", "imds: [{name: eks, port: 1, bridgePort: 2, hops: 1}]\n", ServeConfig{}, `unknown field "hops" (known: name, cloud, port, bridgePort, role, instanceId, region, hopLimit, requireV2, vm, resourceGroup, identities)`},
		{"bad imds", "imds: [{name: eks, port: 0, bridgePort: 2}]\n", ServeConfig{}, "imds[0]: imds \"name=eks,port=0,bridge-port=2,http-tokens=optional\": port and bridge-port must be between 1 and 65535"},
		{"bad yaml", "region: [\n", ServeConfig{}, "yaml:"},
		{"wrong type", "httpsPort: many\n", ServeConfig{}, "cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseServeConfig([]byte(tc.doc))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestLoadServeConfigNamesTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "serve.yaml")
	require.NoError(t, os.WriteFile(p, []byte("nope: 1\n"), 0o644))
	_, err := LoadServeConfig(p)
	require.ErrorContains(t, err, "serve config "+p+": ")
	_, err = LoadServeConfig(filepath.Join(t.TempDir(), "absent.yaml"))
	require.ErrorContains(t, err, "no such file")
}
