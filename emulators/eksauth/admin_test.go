package eksauth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/emulators/eksauth"
)

// adminDo sends one admin request and returns the status and the body.
func adminDo(t *testing.T, h *eksauth.Handler, method, path, body string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.AdminHandler().ServeHTTP(rec, httptest.NewRequest(method, eksauth.AdminPrefix+path, strings.NewReader(body)))
	return rec.Code, rec.Body.String()
}

// TestAdminAssociations: an association added through the admin API is
// honoured by AssumeRoleForPodIdentity at once, and refused again once
// deleted; every request the API refuses changes nothing.
func TestAdminAssociations(t *testing.T) {
	l := newLab(t)
	h := l.eks.Handler()
	node := l.nodeCreds(t, "node")
	before := h.Associations()
	tok := map[string]string{"token": l.podToken(t, l.issuer, "team-race", "app", nil)}

	res := l.call(t, &node, "lab", tok)
	require.Equal(t, 404, res.status, "no association yet: %s", res.message)
	require.Equal(t, "ResourceNotFoundException", res.code)

	status, body := adminDo(t, h, http.MethodPost, "associations",
		`{"clusterName":"lab","namespace":"team-race","serviceAccount":"app","roleArn":"arn:aws:iam::111111111111:role/app-no-tags","disableSessionTags":true}`)
	require.Equal(t, http.StatusCreated, status, body)
	var added eksauth.Association
	require.NoError(t, json.Unmarshal([]byte(body), &added))
	require.Regexp(t, `^a-[0-9a-z]{17}$`, added.ID)
	require.Equal(t, "arn:aws:eks:us-west-2:111111111111:podidentityassociation/lab/"+added.ID, added.ARN)

	res = l.call(t, &node, "lab", tok)
	require.Equal(t, 200, res.status, "%s: %s", res.code, res.message)
	require.Equal(t, added.ID, res.out.PodIdentityAssociation.AssociationID)

	status, body = adminDo(t, h, http.MethodGet, "associations", "")
	require.Equal(t, http.StatusOK, status)
	var listed []eksauth.Association
	require.NoError(t, json.Unmarshal([]byte(body), &listed))
	require.Equal(t, append(before, added), listed)

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		msg                      string
	}{
		{"the same service account again", http.MethodPost, "associations",
			`{"clusterName":"lab","namespace":"team-race","serviceAccount":"app","roleArn":"arn:aws:iam::111111111111:role/app"}`, 409, "already covers"},
		{"unknown cluster", http.MethodPost, "associations",
			`{"clusterName":"nope","namespace":"team-race","serviceAccount":"other","roleArn":"arn:aws:iam::111111111111:role/app"}`, 404, `no cluster \"nope\"`},
		{"bad namespace", http.MethodPost, "associations",
			`{"clusterName":"lab","namespace":"Team_Race","serviceAccount":"other","roleArn":"arn:aws:iam::111111111111:role/app"}`, 400, "not a Kubernetes namespace name"},
		{"unknown field", http.MethodPost, "associations", `{"clusterName":"lab","role":"x"}`, 400, `unknown field \"role\"`},
		{"not JSON", http.MethodPost, "associations", `{`, 400, "unexpected EOF"},
		{"unknown ID", http.MethodDelete, "associations/a-zzzzzzzzzzzzzzzzz", "", 404, "not found"},
		{"delete the list", http.MethodDelete, "associations", "", 404, "DELETE " + eksauth.AdminPrefix + "associations/{id}"},
		{"nested path", http.MethodDelete, "associations/" + added.ID + "/x", "", 404, "GET " + eksauth.AdminPrefix + "clusters"},
		{"unknown path", http.MethodGet, "roles", "", 404, "GET " + eksauth.AdminPrefix + "clusters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := adminDo(t, h, tc.method, tc.path, tc.body)
			require.Equal(t, tc.status, status, body)
			require.Contains(t, body, tc.msg)
			require.Equal(t, append(before, added), h.Associations(), "nothing changed")
		})
	}

	status, body = adminDo(t, h, http.MethodGet, "clusters", "")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `"name":"lab"`)

	status, body = adminDo(t, h, http.MethodDelete, "associations/"+added.ID, "")
	require.Equal(t, http.StatusNoContent, status, body)
	require.Equal(t, before, h.Associations())
	res = l.call(t, &node, "lab", tok)
	require.Equal(t, 404, res.status, "deleted: %s", res.message)
	require.Equal(t, "ResourceNotFoundException", res.code)
	status, _ = adminDo(t, h, http.MethodDelete, "associations/"+added.ID, "")
	require.Equal(t, http.StatusNotFound, status, "already deleted")
}

// TestRemovedAssociationStaysRemoved: a deletion survives a restart over
// the same DataDir.
func TestRemovedAssociationStaysRemoved(t *testing.T) {
	dir := t.TempDir()
	h := newHandler(t, dir)
	require.NoError(t, h.AddCluster(eksauth.Cluster{Name: "lab", Account: "111111111111", IssuerURL: "https://oidc.example/id/1"}))
	a, err := h.AddAssociation(eksauth.Association{ClusterName: "lab", Namespace: "a", ServiceAccount: "b", RoleARN: "arn:aws:iam::111111111111:role/r"})
	require.NoError(t, err)
	removed, err := h.RemoveAssociation(a.ID)
	require.NoError(t, err)
	require.Equal(t, a, removed)
	require.Empty(t, newHandler(t, dir).Associations())
	_, err = h.RemoveAssociation(a.ID)
	require.ErrorIs(t, err, eksauth.ErrNotFound)
}
