package gcpiam_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/gcpiam"
)

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	h, err := gcpiam.New(gcpiam.Options{DataDir: dir})
	require.NoError(t, err)
	require.NoError(t, h.LoadFixtureYAML("lab.yaml", []byte(labFixture)))
	tok, _, err := h.MintAccessToken(ctx, reader, nil, 0)
	require.NoError(t, err)
	id1, err := h.MintIDToken(ctx, reader, "aud", true)
	require.NoError(t, err)

	h2, err := gcpiam.New(gcpiam.Options{DataDir: dir})
	require.NoError(t, err)
	sa, err := h2.ServiceAccount(reader)
	require.NoError(t, err)
	require.Equal(t, gcpiam.UniqueIDFor(reader), sa.UniqueID)
	require.Equal(t, "Reader", sa.DisplayName)
	info, err := h2.VerifyAccessToken(tok)
	require.NoError(t, err)
	require.Equal(t, reader, info.Email)
	require.True(t, h2.HasRole("projects/_/buckets/team-a-data", "serviceAccount:"+reader, "roles/storage.objectViewer"))
	require.Len(t, h2.Pools(), 2)
	id2, err := h2.MintIDToken(ctx, reader, "aud", true)
	require.NoError(t, err)
	// Same signing key: same kid in both tokens' headers.
	require.Equal(t, id1[:40], id2[:40])

	// Memory-only handlers share nothing.
	h3, err := gcpiam.New(gcpiam.Options{})
	require.NoError(t, err)
	_, err = h3.ServiceAccount(reader)
	require.ErrorIs(t, err, gcpiam.ErrNotFound)
}

func TestHasRoleInheritsProject(t *testing.T) {
	h, err := gcpiam.New(gcpiam.Options{})
	require.NoError(t, err)
	_, err = h.AddServiceAccount("proj-a", "target", "")
	require.NoError(t, err)
	res := "projects/proj-a/serviceAccounts/target@proj-a.iam.gserviceaccount.com"
	require.False(t, h.HasRole(res, "user:alice@example.com", "roles/iam.serviceAccountTokenCreator"))
	require.NoError(t, h.AddBinding("projects/proj-a", "roles/iam.serviceAccountTokenCreator", "user:Alice@example.com"))
	require.True(t, h.HasRole(res, "user:alice@example.com", "roles/iam.serviceAccountTokenCreator"))
	require.True(t, h.HasRole("projects/-/serviceAccounts/"+gcpiam.UniqueIDFor("target@proj-a.iam.gserviceaccount.com"), "user:alice@example.com", "roles/iam.serviceAccountTokenCreator"))
	require.True(t, h.CheckPermission(res, []string{"user:alice@example.com"}, "iam.serviceAccounts.signBlob"))
	require.False(t, h.CheckPermission("projects/_/buckets/b", []string{"user:alice@example.com"}, "storage.objects.get"))
	require.NoError(t, h.AddBinding("projects/_/buckets/b", "roles/storage.objectViewer", "allUsers"))
	require.True(t, h.CheckPermission("projects/_/buckets/b", nil, "storage.objects.get"))
	ds := h.Decisions()
	require.Len(t, ds, 6)
	require.False(t, ds[0].Allowed())
	require.Equal(t, "roles/iam.serviceAccountTokenCreator", ds[0].Detail["role"])
	require.True(t, ds[5].Allowed())

	require.ErrorIs(t, h.AddBinding("projects/p1", "roles/made.up", "allUsers"), gcpiam.ErrInvalid)
	require.ErrorIs(t, h.AddBinding("projects/p1", "roles/viewer", "alice"), gcpiam.ErrInvalid)
	require.ErrorIs(t, h.AddBinding("buckets/x", "roles/viewer", "allUsers"), gcpiam.ErrInvalid)
}
