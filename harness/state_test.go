package harness

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/harness/cloud"
)

// adminLab starts an emulator with its admin API on a socket and returns
// the State a scenario would open, with the secret file made as Up makes it.
func adminLab(t *testing.T) *State {
	t.Helper()
	dir, err := os.MkdirTemp("", "idlab-state-") // short: socket paths have at most 107 bytes
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	secretFile := filepath.Join(dir, adminSecret)
	secret, err := cloud.LoadOrCreateAdminSecret(secretFile)
	require.NoError(t, err)
	c, err := cloud.New(cloud.Config{DataDir: filepath.Join(dir, "serve"), AdminListen: "unix:" + filepath.Join(dir, adminSocket), AdminSecret: secret})
	require.NoError(t, err)
	require.NoError(t, c.Start())
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return &State{EmulatorURL: c.URL(), AdminAddr: c.AdminAddr(), AdminSecretFile: secretFile}
}

func TestStateAdmin(t *testing.T) {
	st := adminLab(t)
	ctx := t.Context()
	require.NoError(t, waitHealthy(ctx, st))
	var clock struct{ OffsetSeconds int64 }
	require.NoError(t, st.Admin(ctx, http.MethodPost, "/_idlab/clock?advance=90s", nil, &clock))
	require.EqualValues(t, 90, clock.OffsetSeconds)
	ds, err := st.Decisions(ctx, DecisionFilter{})
	require.NoError(t, err)
	require.Empty(t, ds)
	_, err = st.Decisions(ctx, DecisionFilter{Cloud: "moon"})
	require.ErrorContains(t, err, "HTTP 400")
	err = st.Admin(ctx, http.MethodGet, "/_idlab/nope", nil, nil)
	require.ErrorContains(t, err, "HTTP 404")

	other := *st
	other.AdminSecretFile = filepath.Join(t.TempDir(), "other.secret")
	_, err = cloud.LoadOrCreateAdminSecret(other.AdminSecretFile)
	require.NoError(t, err)
	require.ErrorContains(t, other.Admin(ctx, http.MethodGet, "/_idlab/healthz", nil, nil), "HTTP 401")
	require.ErrorContains(t, waitHealthy(ctx, &other), "refuses the secret", "a wrong secret fails at once, not after 30 s")

	old := *st
	old.AdminAddr = ""
	require.ErrorContains(t, old.Admin(ctx, http.MethodGet, "/_idlab/healthz", nil, nil), "run `idlab up` again")
	// The cloud plane from the host no longer answers admin paths.
	hc, err := (&State{CAFile: filepath.Join(filepath.Dir(st.AdminSecretFile), "serve", "ca.pem")}).HTTPClient()
	require.NoError(t, err)
	resp, err := hc.Get(st.EmulatorURL + "/_idlab/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.NotEqual(t, http.StatusOK, resp.StatusCode)
}
