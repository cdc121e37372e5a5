package idlabtest_test

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/api/googleapi"

	"github.com/idlab/idlab/idlabtest"
)

func TestNewGoogleStorageClient(t *testing.T) {
	g := idlabtest.NewGoogle(t, idlabtest.GoogleOptions{Fixtures: []string{"../fixtures/gcp/lab.yaml"}})
	const pool = "idlab.svc.id.goog"
	tests := []struct {
		name, ksa, impersonate, bucket, object string
		want                                   string
		code                                   int    // a googleapi.Error's, when the read is refused
		refused                                string // in the error, when the token is refused
	}{
		{name: "bound KSA as its GSA", ksa: "app-a", impersonate: "team-a-reader@idlab.iam.gserviceaccount.com",
			bucket: "team-a-data", object: "hello.txt", want: "hello from team-a-data"},
		{name: "another team's bucket", ksa: "app-a", impersonate: "team-a-reader@idlab.iam.gserviceaccount.com",
			bucket: "team-b-data", object: "secret.txt", code: 403},
		{name: "federated KSA, no binding on the bucket", ksa: "app-a",
			bucket: "team-a-data", object: "hello.txt", code: 403},
		{name: "KSA not bound to the GSA", ksa: "app-b", impersonate: "team-a-reader@idlab.iam.gserviceaccount.com",
			bucket: "team-a-data", object: "hello.txt", refused: "PERMISSION_DENIED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := g.NewStorageClient(t, pool, "idlab-gke", tc.ksa, tc.impersonate)
			r, err := c.Bucket(tc.bucket).Object(tc.object).NewReader(context.Background())
			var ge *googleapi.Error
			switch {
			case tc.refused != "":
				require.ErrorContains(t, err, tc.refused)
				return
			case tc.code != 0:
				require.True(t, errors.As(err, &ge), "%v", err)
				require.Equal(t, tc.code, ge.Code, ge.Body)
				return
			}
			require.NoError(t, err)
			defer r.Close()
			got, err := io.ReadAll(r)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
		})
	}
	d := g.IAM.Handler().Decisions()
	require.NotEmpty(t, d, "the exchanges are in Google IAM's decision log")
}

func TestStartGoogleRefusesBadFixtures(t *testing.T) {
	_, err := idlabtest.StartGoogle(idlabtest.GoogleOptions{Fixtures: []string{writeFile(t, "projects:\n  - id: 12\n    bogus: 1\n")}})
	require.ErrorContains(t, err, "idlabtest: google fixtures")
	_, err = idlabtest.StartGoogle(idlabtest.GoogleOptions{IssuerURL: "not a url"})
	require.ErrorContains(t, err, "idlabtest: issuer not a url")
}
