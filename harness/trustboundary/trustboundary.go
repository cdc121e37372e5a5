// Package trustboundary is the lab's proof that a workload under test
// cannot change the lab that judges it: the admin requests a pod might try
// on the cloud plane (the endpoints it reaches through cluster DNS), the
// answer each cloud host gives them, and how to read a cloud's error code
// from an HTTP answer. The trustboundary scenario sends them from a pod;
// its test of the test (scenarios/trustboundary, make test) and
// harness/cloud's tests send them to a running emulator (Send), on both
// planes.
package trustboundary

import (
	"net/url"
	"strconv"
)

// Request is one call of the admin API as a workload would send it. A
// body goes as `curl -d` sends it, Content-Type
// application/x-www-form-urlencoded, which the old admin handlers took
// whatever it said.
type Request struct {
	// ID names the request in matrix rows.
	ID     string
	Method string
	Path   string // with its query
	Body   string
}

// FormContentType is the Content-Type of a request with a body.
const FormContentType = "application/x-www-form-urlencoded"

// AttackUser and AttackRole are what the fixtures request tries to plant.
const (
	AttackUser = "trustboundary-intruder"
	AttackRole = "trustboundary-open-door"
)

// Requests are the admin calls that would change the lab, or read what a
// workload must not see, on the old router where /_idlab/ answered on
// every host: a new signing key for issuer, a token minted by it, an IAM
// user allowed everything and a role any principal may assume in account,
// the clock moved 13 hours, the IAM decision log wiped, every account's
// buckets listed. On the admin plane, with the secret, each succeeds.
func Requests(issuer, account string) []Request {
	fixture := "accounts:\n  - id: \"" + account + "\"\n" +
		"    users:\n      - name: " + AttackUser + "\n        inlinePolicies:\n          all: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Action: \"*\", Resource: \"*\"}]}\n" +
		"    roles:\n      - name: " + AttackRole + "\n        trustPolicy: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Principal: {AWS: \"*\"}, Action: sts:AssumeRole}]}\n"
	return []Request{
		{ID: "oidc-signing-key", Method: "POST", Path: "/_idlab/oidc/issuers/keys?" + url.Values{"issuer": {issuer}, "signing": {"true"}}.Encode()},
		{ID: "oidc-token", Method: "POST", Path: "/_idlab/oidc/token",
			Body: `{"issuer":` + strconv.Quote(issuer) + `,"namespace":"kube-system","serviceAccount":"admin","audiences":["sts.amazonaws.com"]}`},
		{ID: "iam-fixtures", Method: "POST", Path: "/_idlab/iam/fixtures", Body: fixture},
		{ID: "clock-advance", Method: "POST", Path: "/_idlab/clock?advance=13h"},
		{ID: "iam-decisions-wipe", Method: "DELETE", Path: "/_idlab/iam/decisions"},
		{ID: "s3-buckets", Method: "GET", Path: "/_idlab/s3/buckets"},
	}
}

// Target is where a workload sends the requests: a cloud host name it
// resolves through cluster DNS, or the emulator's own address.
type Target struct {
	// ID names the target in matrix rows.
	ID string
	// Host is the URL host (no port).
	Host string
	kind string
}

// Targets are the cloud hosts a pod in the AWS cluster reaches the
// emulator by (STS, S3 path-style and virtual-hosted for bucket, Cloud
// Storage, Entra) and, given emulatorIP, the emulator's address itself.
func Targets(region, bucket, emulatorIP string) []Target {
	ts := []Target{
		{ID: "sts", Host: "sts." + region + ".amazonaws.com", kind: kindSTS},
		{ID: "s3-path", Host: "s3." + region + ".amazonaws.com", kind: kindS3Path},
		{ID: "s3-virtual", Host: bucket + ".s3." + region + ".amazonaws.com", kind: kindS3Virtual},
		{ID: "gcs", Host: "storage.googleapis.com", kind: kindGCS},
		{ID: "entra", Host: "login.microsoftonline.com", kind: kindEntra},
	}
	if emulatorIP != "" {
		ts = append(ts, Target{ID: "emulator-ip", Host: emulatorIP, kind: kindIP})
	}
	return ts
}

const (
	kindSTS       = "sts"
	kindS3Path    = "s3-path"
	kindS3Virtual = "s3-virtual"
	kindGCS       = "gcs"
	kindEntra     = "entra"
	kindIP        = "ip"
	kindLoopback  = "loopback"
)

// Answer is what a request got: its HTTP status and the cloud's error
// code ("" when the answer carries none).
type Answer struct {
	Status int
	Code   string
}

// String is the form matrix rows show: "404 NoSuchBucket", "404".
func (a Answer) String() string {
	if a.Code == "" {
		return strconv.Itoa(a.Status)
	}
	return strconv.Itoa(a.Status) + " " + a.Code
}

// Loopback is the emulator's published port on the host (127.0.0.1),
// which a pod cannot reach but a process on the host can: an unsigned form
// POST there is a query API's (STS's, when it names no other), anything
// else unsigned is S3 path-style.
func Loopback() Target { return Target{ID: "loopback", Host: "127.0.0.1", kind: kindLoopback} }

// Expected is what the cloud answers r on t's host, for an anonymous
// caller; on the emulator's own address, which no cloud has, the lab's
// 404 for a host it does not know.
func Expected(t Target, r Request) Answer {
	if t.kind == kindLoopback {
		if r.Method == "POST" && r.Body != "" {
			t.kind = kindSTS
		} else {
			t.kind = kindS3Path
		}
	}
	switch t.kind {
	case kindSTS:
		// The query API reads Action from the query and form body, not the
		// path; there is none: Could not find operation  for version .
		return Answer{400, "InvalidAction"}
	case kindS3Path, kindS3Virtual:
		if r.Method == "POST" {
			// POST on an object without an upload subresource.
			return Answer{405, "MethodNotAllowed"}
		}
		if t.kind == kindS3Path {
			// Path-style /_idlab/... addresses bucket _idlab.
			return Answer{404, "NoSuchBucket"}
		}
		// Virtual-hosted: key _idlab/... of a private bucket, anonymous.
		return Answer{403, "AccessDenied"}
	case kindGCS:
		// XML API /BUCKET/OBJECT, anonymous: Cloud Storage does not say
		// whether bucket _idlab exists.
		return Answer{401, "AuthenticationRequired"}
	}
	// Entra: tenant _idlab has no such endpoint; the emulator's IP: no
	// cloud answers a bare address.
	return Answer{404, ""}
}
