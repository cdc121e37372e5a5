package awserrcodes_test

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/internal/awserrcodes"
)

// queryModel has the two ways a model names an error: a query-protocol
// error.code, and the bare shape name; and a documented code list as S3's
// model has one.
const queryModel = `{
  "metadata": {"apiVersion": "2011-06-15", "protocol": "query"},
  "shapes": {
    "IDPRejectedClaimException": {"type": "structure", "exception": true,
      "error": {"code": "IDPRejectedClaim", "httpStatusCode": 403, "senderFault": true}},
    "RegionDisabledException": {"type": "structure", "exception": true},
    "Credentials": {"type": "structure", "members": {"AccessKeyId": {"shape": "accessKeyIdType"}}},
    "Error": {"type": "structure", "members": {"Code": {"shape": "Code",
      "documentation": "<ul> <li> <p> <i>Code:</i> NoSuchKey </p> </li> <li> <p> <i>Code:</i> N/A</p> </li> <li> <p> <i>Code:</i> 409 Conflict (in all Regions)</p> </li> <li> <p> <i>Code:</i> KMS.NotFoundException</p> </li> </ul>"}}}
  }
}`

// jsonModel is an awsQueryCompatible JSON model: its error.code goes in
// the x-amzn-query-error header, the shape name on the wire.
const jsonModel = `{
  "metadata": {"apiVersion": "2023-11-26", "protocol": "rest-json", "awsQueryCompatible": {}},
  "shapes": {
    "ThrottlingException": {"type": "structure", "exception": true, "error": {"code": "Throttling", "httpStatusCode": 429}}
  }
}`

func TestParseModel(t *testing.T) {
	tests := []struct {
		name, doc  string
		errors     map[string]string
		documented []string
		err        string
	}{
		{name: "query protocol", doc: queryModel,
			errors:     map[string]string{"IDPRejectedClaim": "IDPRejectedClaimException", "RegionDisabledException": "RegionDisabledException"},
			documented: []string{"KMS.NotFoundException", "NoSuchKey"}},
		{name: "JSON protocol keeps shape names", doc: jsonModel,
			errors: map[string]string{"ThrottlingException": "ThrottlingException"}},
		{name: "not JSON", doc: "<xml/>", err: "decode service model"},
		{name: "no protocol", doc: `{"metadata": {}, "shapes": {}}`, err: "no metadata.protocol"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := awserrcodes.ParseModel(strings.NewReader(tc.doc))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.errors, m.Errors)
			require.Equal(t, tc.documented, m.Documented)
		})
	}
}

// TestLoadModel: the newest API version wins, gzipped models load, and a
// service the data directory lacks is fs.ErrNotExist.
func TestLoadModel(t *testing.T) {
	dir := t.TempDir()
	write := func(rel string, data []byte) {
		t.Helper()
		p := filepath.Join(dir, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, data, 0o644))
	}
	write("sts/2011-06-15/service-2.json", []byte(queryModel))
	write("sts/2010-01-01/service-2.json", []byte(`{"metadata": {"protocol": "query"}, "shapes": {"OldException": {"exception": true}}}`))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write([]byte(jsonModel))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	write("eks-auth/2023-11-26/service-2.json.gz", gz.Bytes())
	write("empty/README", []byte("no versions"))

	m, err := awserrcodes.LoadModel(dir, "sts")
	require.NoError(t, err)
	require.Equal(t, "sts", m.Service)
	require.Equal(t, "2011-06-15", m.APIVersion)
	require.NotContains(t, m.Errors, "OldException")

	m, err = awserrcodes.LoadModel(dir, "eks-auth")
	require.NoError(t, err)
	require.Equal(t, "rest-json", m.Protocol)
	require.Contains(t, m.Errors, "ThrottlingException")

	for _, missing := range []string{"sns", "empty"} {
		_, err = awserrcodes.LoadModel(dir, missing)
		require.ErrorIs(t, err, fs.ErrNotExist, missing)
	}
}

func TestReadList(t *testing.T) {
	tests := []struct {
		name, doc string
		want      map[string]string
		err       string
	}{
		{name: "codes and comments", doc: "# header\n\nNoSuchKey  https://example/a b\n\tKMS.NotFoundException\thttps://example/b\n",
			want: map[string]string{"NoSuchKey": "https://example/a b", "KMS.NotFoundException": "https://example/b"}},
		{name: "no source", doc: "NoSuchKey\n", err: "line 1: NoSuchKey has no source"},
		{name: "not a code", doc: "503 SlowDown https://example\n", err: `line 1: "503" is not an error code`},
		{name: "twice", doc: "A x\n# c\nA y\n", err: "line 3: A listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := awserrcodes.ReadList(strings.NewReader(tc.doc))
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// FuzzParseModel: any input is a model or an error, never a panic, and
// every code parsed has an AWS code's shape.
func FuzzParseModel(f *testing.F) {
	f.Add(queryModel)
	f.Add(jsonModel)
	f.Add(`{"metadata": {"protocol": "query"}, "shapes": {"": {"exception": true, "error": {"code": ""}}}}`)
	f.Fuzz(func(t *testing.T, doc string) {
		m, err := awserrcodes.ParseModel(strings.NewReader(doc))
		if err != nil {
			return
		}
		require.NotEmpty(t, m.Protocol)
		for _, c := range m.Documented {
			require.Regexp(t, `^[A-Za-z][A-Za-z0-9.]*$`, c)
		}
	})
}

// FuzzReadList: a list that parses has only well-formed codes with a
// source each.
func FuzzReadList(f *testing.F) {
	f.Add("# header\nNoSuchKey https://example\n")
	f.Add("A x\nA y\n")
	f.Add("503 SlowDown\n")
	f.Fuzz(func(t *testing.T, doc string) {
		got, err := awserrcodes.ReadList(strings.NewReader(doc))
		if err != nil {
			return
		}
		for code, source := range got {
			require.Regexp(t, `^[A-Za-z][A-Za-z0-9.]*$`, code)
			require.NotEmpty(t, source)
		}
	})
}
