package toolrun

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

// The script runs in sh here as in the pod: each step's output, stdout
// and stderr in order, comes back between its markers with its status,
// and the first failing step ends the run.
func TestScriptRunsInSh(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []Step
		want  []Result
		exit  int
	}{
		{"outputs and statuses", []Step{
			{Name: "both-streams", Shell: "echo out; echo err >&2; echo more"},
			{Name: "no-newline", Shell: "printf 'Alive[###] 100%%'"},
			{Name: "empty", Shell: "true"},
			{Name: "quoted", Shell: "printf '%s|' " + Quote("it's") + " " + Quote("a b") + " " + Quote("$HOME")},
		}, []Result{
			{Name: "both-streams", Output: "out\nerr\nmore\n", Done: true},
			{Name: "no-newline", Output: "Alive[###] 100%", Done: true},
			{Name: "empty", Output: "", Done: true},
			{Name: "quoted", Output: "it's|a b|$HOME|", Done: true},
		}, 0},
		{"the first failure ends the run", []Step{
			{Name: "one", Shell: "echo one"},
			{Name: "fails", Shell: "echo 'ERROR: no' >&2; exit 3"},
			{Name: "never", Shell: "echo never"},
		}, []Result{
			{Name: "one", Output: "one\n", Done: true},
			{Name: "fails", Output: "ERROR: no\n", Exit: 3, Done: true},
		}, 3},
		{"a variable of the pod's environment", []Step{{Name: "env", Shell: "echo $TOOLRUN_TEST_VAR"}},
			[]Result{{Name: "env", Output: "from the pod\n", Done: true}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			script, err := Script(tc.steps...)
			require.NoError(t, err)
			cmd := exec.Command("sh", "-c", script)
			cmd.Env = append(os.Environ(), "TOOLRUN_TEST_VAR=from the pod")
			out, err := cmd.Output()
			if tc.exit == 0 {
				require.NoError(t, err, string(out))
			} else {
				var ee *exec.ExitError
				require.ErrorAs(t, err, &ee)
				require.Equal(t, tc.exit, ee.ExitCode())
			}
			got, err := Parse(string(out))
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestScriptRefuses(t *testing.T) {
	for _, steps := range [][]Step{
		{{Name: "Upper", Shell: "true"}},
		{{Name: "with space", Shell: "true"}},
		{{Name: "", Shell: "true"}},
		{{Name: "blank", Shell: "  "}},
	} {
		_, err := Script(steps...)
		require.Error(t, err, "%+v", steps)
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"app-a-data":          "app-a-data",
		"s3:app-a-data/x.txt": "s3:app-a-data/x.txt",
		"":                    "''",
		"a b":                 "'a b'",
		"it's":                `'it'\''s'`,
		"$(id)":               "'$(id)'",
		"a;b":                 "'a;b'",
	} {
		require.Equal(t, want, Quote(in), in)
		out, err := exec.Command("sh", "-c", "printf %s "+Quote(in)).Output()
		require.NoError(t, err)
		require.Equal(t, in, string(out), "sh reads back %q", in)
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, log string
		want      []Result
		err       string
	}{
		{"kubelet noise around the steps", "noise\n==idlab-step a\nx\n\n==idlab-exit a 0\ntrailer\n",
			[]Result{{Name: "a", Output: "x\n", Done: true}}, ""},
		{"a log cut inside a step", "==idlab-step a\npartial", []Result{{Name: "a", Output: "partial"}}, ""},
		{"CRLF", "==idlab-step a\r\nx\r\n\r\n==idlab-exit a 2\r\n", []Result{{Name: "a", Output: "x\r\n", Exit: 2, Done: true}}, ""},
		{"nothing", "", nil, ""},
		{"a step inside a step", "==idlab-step a\n==idlab-step b\n", nil, `step "b" begins inside step "a"`},
		{"the end of another step", "==idlab-step a\n==idlab-exit b 0\n", nil, "unexpected end marker"},
		{"an end with no step", "==idlab-exit a 0\n", nil, "unexpected end marker"},
		{"a bad status", "==idlab-step a\n==idlab-exit a x\n", nil, `exit status "x"`},
		{"no status", "==idlab-step a\n==idlab-exit a\n", nil, "unexpected end marker"},
		{"a name Script refuses", "==idlab-step  0\n", nil, `step name " 0"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.log)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"rclone-s3-own.log", "az-other-container.log", "az-unfederated.log"} {
		raw, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(f, err)
		f.Add(string(raw))
	}
	f.Add("==idlab-step a\n==idlab-exit a 99999999999999999999\n")
	f.Add("==idlab-step a\r\n==idlab-exit a -1\r\n")
	f.Fuzz(func(t *testing.T, log string) {
		rs, err := Parse(log)
		if err != nil {
			return
		}
		for i, r := range rs {
			require.Regexp(t, stepNameRE, r.Name)
			if !r.Done {
				require.Equal(t, len(rs)-1, i, "only the last step may be unfinished")
			}
			for _, o := range []func(Result) (Outcome, error){RcloneOutcome, AzOutcome} {
				out, err := o(r)
				if err == nil && out.OK {
					require.True(t, r.OK())
				}
			}
			_, _ = AzAccounts(r)
		}
	})
}

func TestPod(t *testing.T) {
	env := RcloneS3Env("s3", "us-west-2")
	p, err := Pod("rclone-s3", "rclone", "idlab/toolclient:x", env, RcloneCopy("s3", "b", "k"), CatObject())
	require.NoError(t, err)
	require.Equal(t, "rclone", p.Spec.ServiceAccountName)
	require.Equal(t, corev1.RestartPolicyNever, p.Spec.RestartPolicy)
	c := p.Spec.Containers[0]
	require.Equal(t, Container, c.Name)
	require.Equal(t, corev1.PullNever, c.ImagePullPolicy)
	require.Equal(t, env, c.Env)
	script, err := Script(RcloneCopy("s3", "b", "k"), CatObject())
	require.NoError(t, err)
	require.Equal(t, []string{"sh", "-c", script}, c.Command)
	require.Empty(t, c.VolumeMounts, "no keys, no config files: the lab CA comes from the namespace's webhook")
	_, err = Pod("bad", "sa", "img", nil, Step{Name: "Bad", Shell: "true"})
	require.Error(t, err)
}
