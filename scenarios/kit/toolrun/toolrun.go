// Package toolrun runs unmodified third-party tools (Debian's rclone and
// azure-cli, from the lab's idlab/toolclient and idlab/azclient images)
// in scenario pods and reads what they did: a pod runs a list of shell
// steps, each the command line a user would type, and its log holds each
// step's own output between markers with its exit status, which Parse
// reads back. The tools get their identity from the pod as the webhooks
// and metadata servers give it, and their configuration from environment
// variables only (RcloneS3Env, RcloneGCSEnv, RcloneAzureBlobEnv): no
// keys, no config files. Pods run in a namespace labelled for the lab CA
// webhook (labenv.AppNamespace), which gives every container the lab CA
// through the variables the tools read (SSL_CERT_FILE for rclone,
// REQUESTS_CA_BUNDLE for azure-cli).
//
// What each tool reports is read by RcloneOutcome and AzOutcome: the
// object, or the cloud's error code and the request ID the tool printed,
// so a row can name the emulator's decision the refusal came from.
package toolrun

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Container is the name of the pod's one container: podrun waits for the
// container of this name to finish.
const Container = "probe"

// Step is one command line a pod runs, in sh: the words a user would
// type, with the variables the pod's environment holds expanded at run
// time ($AZURE_CLIENT_ID).
type Step struct {
	Name string
	// Shell is the command line; Quote the literal words put into it.
	Shell string
}

// The markers around each step's output in the pod's log.
const (
	beginMarker = "==idlab-step "
	endMarker   = "==idlab-exit "
)

// stepNameRE is what a step's name may be: it is printed in the markers
// unquoted.
var stepNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// Script is the sh script that runs steps in order, each with its stderr
// on its stdout (one stream, in order), between markers; the first step
// that fails ends the script with its status.
func Script(steps ...Step) (string, error) {
	var b strings.Builder
	for _, s := range steps {
		if !stepNameRE.MatchString(s.Name) {
			return "", fmt.Errorf("toolrun: step name %q: lower-case letters, digits and hyphens", s.Name)
		}
		if strings.TrimSpace(s.Shell) == "" {
			return "", fmt.Errorf("toolrun: step %s has no command", s.Name)
		}
		// The newline before the end marker starts it on a line of its
		// own after output that ends without one (a progress bar); Parse
		// takes it off again.
		fmt.Fprintf(&b, "echo '%s%s'\n( %s\n) 2>&1\nrc=$?\nprintf '\\n%s%s %%d\\n' \"$rc\"\n[ \"$rc\" -eq 0 ] || exit \"$rc\"\n",
			beginMarker, s.Name, s.Shell, endMarker, s.Name)
	}
	return b.String(), nil
}

// Quote makes word one literal sh word.
func Quote(word string) string {
	if word != "" && strings.Trim(word, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+%") == "" {
		return word
	}
	return "'" + strings.ReplaceAll(word, "'", `'\''`) + "'"
}

// Pod is a pod as a user would write it for the tool: serviceAccount's
// identity (the webhooks of the pod's cluster do the rest), image, env,
// and one container running steps. It does not restart; its log is
// Parse's input.
func Pod(name, serviceAccount, image string, env []corev1.EnvVar, steps ...Step) (*corev1.Pod, error) {
	script, err := Script(steps...)
	if err != nil {
		return nil, err
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/part-of": "idlab-scenarios"}},
		Spec: corev1.PodSpec{
			ServiceAccountName: serviceAccount,
			RestartPolicy:      corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: Container, Image: image, ImagePullPolicy: corev1.PullNever,
				Command: []string{"sh", "-c", script},
				Env:     env,
			}},
		},
	}, nil
}

// Result is one step as the pod's log shows it.
type Result struct {
	Name string
	// Output is what the step printed, stdout and stderr in order.
	Output string
	// Exit is its exit status; Done is false when the log ends inside the
	// step (the pod was killed, or the log is cut).
	Exit int
	Done bool
}

// OK reports whether the step ran to a zero exit status.
func (r Result) OK() bool { return r.Done && r.Exit == 0 }

// Parse reads the steps of a pod's log in order. Text outside the markers
// is ignored; a step begun twice or with a name Script refuses, an end
// marker for another step or a malformed status is an error.
func Parse(log string) ([]Result, error) {
	var out []Result
	var cur *Result
	var body []string
	for _, line := range strings.SplitAfter(log, "\n") {
		trimmed := strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(trimmed, beginMarker):
			if cur != nil {
				return nil, fmt.Errorf("toolrun: step %q begins inside step %q", strings.TrimPrefix(trimmed, beginMarker), cur.Name)
			}
			name := strings.TrimPrefix(trimmed, beginMarker)
			if !stepNameRE.MatchString(name) {
				return nil, fmt.Errorf("toolrun: step name %q in %q", name, trimmed)
			}
			cur = &Result{Name: name}
			body = nil
		case strings.HasPrefix(trimmed, endMarker):
			name, status, ok := strings.Cut(strings.TrimPrefix(trimmed, endMarker), " ")
			if cur == nil || !ok || name != cur.Name {
				return nil, fmt.Errorf("toolrun: unexpected end marker %q", trimmed)
			}
			rc, err := strconv.Atoi(status)
			if err != nil {
				return nil, fmt.Errorf("toolrun: step %s: exit status %q: %w", name, status, err)
			}
			cur.Output, cur.Exit, cur.Done = strings.TrimSuffix(strings.TrimSuffix(strings.Join(body, ""), "\n"), "\r"), rc, true
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body = append(body, line)
		}
	}
	if cur != nil {
		cur.Output = strings.Join(body, "")
		out = append(out, *cur)
	}
	return out, nil
}

// Find returns the result of the step named name, if it ran.
func Find(results []Result, name string) (Result, bool) {
	for _, r := range results {
		if r.Name == name {
			return r, true
		}
	}
	return Result{}, false
}
