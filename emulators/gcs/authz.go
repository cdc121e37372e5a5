package gcs

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Where an access check applies, and how GCS names it in messages.
const (
	nounObject  = "Google Cloud Storage object"
	nounBucket  = "Google Cloud Storage bucket"
	nounProject = "Google Cloud project"
)

// access is one permission a request needs.
type access struct {
	Permission string
	Resource   string // projects/_/buckets/B or projects/P
	Bucket     string
	noun       string
}

// route is what a request addresses and needs.
type route struct {
	Checks []access
	XML    bool // XML API (path-style /BUCKET/OBJECT or BUCKET.storage.googleapis.com): errors are XML
	// VirtualHost keeps the request's Host for fake-gcs-server's
	// BUCKET.storage.googleapis.com routes; otherwise the Host becomes
	// storage.googleapis.com so path-style XML routes match.
	VirtualHost bool
}

// errNotFound and errUnsupported are requests the layer refuses before IAM.
var (
	errNotFound    = errors.New("not found")
	errUnsupported = errors.New("unsupported by the lab")
)

func objectAccess(perm, bucket string) access {
	noun := nounObject
	if perm == "storage.objects.list" {
		noun = nounBucket
	}
	return access{Permission: perm, Resource: "projects/_/buckets/" + bucket, Bucket: bucket, noun: noun}
}

func bucketAccess(perm, bucket string) access {
	return access{Permission: perm, Resource: "projects/_/buckets/" + bucket, Bucket: bucket, noun: nounBucket}
}

// Classify maps a request (method, Host, escaped path, query) to the GCS
// permissions it needs: the JSON API (/storage/v1/...), media uploads
// (/upload/storage/v1/...), downloads (/download/storage/v1/...) and XML
// reads (/BUCKET/OBJECT or BUCKET.storage.googleapis.com/OBJECT).
func Classify(method, host, escapedPath string, query url.Values) (*route, error) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if b, ok := strings.CutSuffix(host, ".storage.googleapis.com"); ok && b != "" {
		return xmlRoute(method, b, strings.TrimPrefix(escapedPath, "/"), true)
	}
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	switch {
	case strings.HasPrefix(escapedPath, "/storage/v1/"):
		return jsonRoute(method, segs[2:], query)
	case strings.HasPrefix(escapedPath, "/upload/storage/v1/b/"):
		if len(segs) >= 6 && segs[4] != "" && segs[5] == "o" {
			return &route{Checks: []access{objectAccess("storage.objects.create", unescape(segs[4]))}}, nil
		}
		return nil, errNotFound
	case strings.HasPrefix(escapedPath, "/download/storage/v1/b/"):
		if len(segs) >= 7 && segs[4] != "" && segs[5] == "o" && segs[6] != "" {
			return &route{Checks: []access{objectAccess("storage.objects.get", unescape(segs[4]))}}, nil
		}
		return nil, errNotFound
	case strings.HasPrefix(escapedPath, "/batch/"), strings.HasPrefix(escapedPath, "/upload/resumable/"):
		return nil, errUnsupported
	case strings.HasPrefix(escapedPath, "/_internal/"), escapedPath == "/" || escapedPath == "":
		return nil, errNotFound
	}
	bucket, object, _ := strings.Cut(strings.TrimPrefix(escapedPath, "/"), "/")
	return xmlRoute(method, unescape(bucket), object, false)
}

func xmlRoute(method, bucket, object string, virtual bool) (*route, error) {
	if bucket == "" {
		return nil, errNotFound
	}
	r := &route{XML: true, VirtualHost: virtual}
	switch {
	case object == "" && (method == http.MethodGet || method == http.MethodHead):
		r.Checks = []access{objectAccess("storage.objects.list", bucket)}
	case object == "":
		return nil, errUnsupported
	case method == http.MethodGet || method == http.MethodHead:
		r.Checks = []access{objectAccess("storage.objects.get", bucket)}
	case method == http.MethodPut || method == http.MethodPost:
		r.Checks = []access{objectAccess("storage.objects.create", bucket)}
	case method == http.MethodDelete:
		r.Checks = []access{objectAccess("storage.objects.delete", bucket)}
	default:
		return nil, errUnsupported
	}
	return r, nil
}

// jsonRoute classifies /storage/v1/<rest>.
func jsonRoute(method string, rest []string, q url.Values) (*route, error) {
	if len(rest) == 0 || rest[0] != "b" {
		return nil, errNotFound
	}
	read := method == http.MethodGet || method == http.MethodHead
	if len(rest) == 1 || (len(rest) == 2 && rest[1] == "") {
		project := q.Get("project")
		if project == "" {
			project = "_"
		}
		perm := "storage.buckets.list"
		if method == http.MethodPost {
			perm = "storage.buckets.create"
		} else if !read {
			return nil, errUnsupported
		}
		return &route{Checks: []access{{Permission: perm, Resource: "projects/" + project, noun: nounProject}}}, nil
	}
	bucket := unescape(rest[1])
	if bucket == "" {
		return nil, errNotFound
	}
	if len(rest) == 2 {
		switch {
		case read:
			return &route{Checks: []access{bucketAccess("storage.buckets.get", bucket)}}, nil
		case method == http.MethodDelete:
			return &route{Checks: []access{bucketAccess("storage.buckets.delete", bucket)}}, nil
		default:
			return &route{Checks: []access{bucketAccess("storage.buckets.update", bucket)}}, nil
		}
	}
	switch rest[2] {
	case "acl", "iam", "defaultObjectAcl":
		if read {
			return &route{Checks: []access{bucketAccess("storage.buckets.getIamPolicy", bucket)}}, nil
		}
		return &route{Checks: []access{bucketAccess("storage.buckets.setIamPolicy", bucket)}}, nil
	case "storageLayout":
		return &route{Checks: []access{bucketAccess("storage.buckets.get", bucket)}}, nil
	case "notificationConfigs":
		if read {
			return &route{Checks: []access{bucketAccess("storage.buckets.get", bucket)}}, nil
		}
		return &route{Checks: []access{bucketAccess("storage.buckets.update", bucket)}}, nil
	case "o":
	default:
		return nil, errNotFound
	}
	if len(rest) == 3 || (len(rest) == 4 && rest[3] == "") {
		if read {
			return &route{Checks: []access{objectAccess("storage.objects.list", bucket)}}, nil
		}
		return &route{Checks: []access{objectAccess("storage.objects.create", bucket)}}, nil
	}
	tail := rest[3:]
	for i, s := range tail {
		if (s == "rewriteTo" || s == "copyTo") && i+4 < len(tail) && i > 0 && tail[i+1] == "b" && tail[i+3] == "o" {
			dst := unescape(tail[i+2])
			return &route{Checks: []access{objectAccess("storage.objects.get", bucket), objectAccess("storage.objects.create", dst)}}, nil
		}
	}
	last := tail[len(tail)-1]
	switch {
	case last == "compose" && method == http.MethodPost:
		return &route{Checks: []access{objectAccess("storage.objects.get", bucket), objectAccess("storage.objects.create", bucket)}}, nil
	case last == "acl" || (len(tail) >= 2 && tail[len(tail)-2] == "acl"):
		if read {
			return &route{Checks: []access{objectAccess("storage.objects.getIamPolicy", bucket)}}, nil
		}
		return &route{Checks: []access{objectAccess("storage.objects.setIamPolicy", bucket)}}, nil
	case read:
		return &route{Checks: []access{objectAccess("storage.objects.get", bucket)}}, nil
	case method == http.MethodDelete:
		return &route{Checks: []access{objectAccess("storage.objects.delete", bucket)}}, nil
	default:
		return &route{Checks: []access{objectAccess("storage.objects.update", bucket)}}, nil
	}
}

func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
