package gcpiam_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/gcpiam"
)

func TestFixtureErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		line       int
		msg        string
	}{
		{"unknown field", "projects:\n  - id: idlab\n    color: red\n", 3, `unknown field "color"`},
		{"bad account id", "projects:\n  - id: idlab\n    serviceAccounts:\n      - {id: X}\n", 4, "service account id"},
		{"unknown role", "projects:\n  - id: idlab\n    bindings:\n      - {resource: projects/idlab, role: roles/nope, members: [allUsers]}\n", 4, `role "roles/nope"`},
		{"bad member", "projects:\n  - id: idlab\n    bindings:\n      - {resource: projects/idlab, role: roles/viewer, members: [bob]}\n", 4, `member "bob"`},
		{"http issuer", "projects:\n  - id: idlab\n    workloadIdentityPools:\n      - {id: p.svc.id.goog, issuer: http://x}\n", 4, "want an https URL"},
		{"unquoted number", "projects:\n  - id: idlab\n    number: 12\n", 2, "number"},
		{"no id", "projects:\n  - number: \"123456789012\"\n", 2, "id is required"},
		{"syntax", "projects: [\n", 1, "yaml"},
		{"not a mapping", "projects:\n  - idlab\n", 2, "want a mapping"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := gcpiam.New(gcpiam.Options{})
			require.NoError(t, err)
			err = h.LoadFixtureYAML("f.yaml", []byte(tc.yaml))
			var fe *gcpiam.FixtureError
			require.True(t, errors.As(err, &fe), "%v", err)
			require.Equal(t, "f.yaml", fe.File)
			require.Equal(t, tc.line, fe.Line, err.Error())
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestLoadFixturesDir(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(labFixture), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.yml"), []byte("projects:\n  - id: other\n    serviceAccounts: [{id: worker}]\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o644))
	h, err := gcpiam.New(gcpiam.Options{})
	require.NoError(t, err)
	require.NoError(t, h.LoadFixtures(dir))
	require.Len(t, h.ServiceAccounts(), 4)
	p, err := h.ProjectByNumber("123456789012")
	require.NoError(t, err)
	require.Equal(t, "idlab", p.ID)
}
