package awss3

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// AdminPrefix is where the read-only admin API answers.
const AdminPrefix = "/_idlab/s3"

type bucketJSON struct {
	Name    string          `json:"name"`
	Owner   string          `json:"owner"`
	Region  string          `json:"region"`
	Created time.Time       `json:"created"`
	Policy  json.RawMessage `json:"policy,omitempty"`
	Objects int             `json:"objects"`
	Uploads int             `json:"uploads"`
}

type objectJSON struct {
	Key          string            `json:"key"`
	Size         int64             `json:"size"`
	ETag         string            `json:"etag"`
	LastModified time.Time         `json:"lastModified"`
	ContentType  string            `json:"contentType"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

// AdminHandler serves a read-only JSON view of the store for tests and
// the lab's control plane: GET /_idlab/s3/buckets and
// GET /_idlab/s3/buckets/{name}/objects. ServeHTTP never answers it.
func (h *Handler) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		write := func(status int, v any) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(v)
		}
		fail := func(status int, code, msg string) {
			write(status, map[string]string{"error": code, "message": msg})
		}
		if r.Method != http.MethodGet {
			fail(http.StatusMethodNotAllowed, "MethodNotAllowed", "the S3 admin API is read-only")
			return
		}
		rest, ok := strings.CutPrefix(r.URL.Path, AdminPrefix+"/buckets")
		if !ok {
			fail(http.StatusNotFound, "NotFound", "GET "+AdminPrefix+"/buckets or "+AdminPrefix+"/buckets/{name}/objects")
			return
		}
		ctx := r.Context()
		if rest == "" || rest == "/" {
			bs, err := h.store.Buckets(ctx)
			if err != nil {
				fail(http.StatusInternalServerError, "InternalError", err.Error())
				return
			}
			out := []bucketJSON{}
			for _, b := range bs {
				objs, _ := h.store.Objects(ctx, b.Name, "")
				ups, _ := h.store.Uploads(ctx, b.Name)
				bj := bucketJSON{Name: b.Name, Owner: b.Owner, Region: b.Region, Created: b.Created, Objects: len(objs), Uploads: len(ups)}
				if json.Valid(b.Policy) {
					bj.Policy = b.Policy
				}
				out = append(out, bj)
			}
			write(http.StatusOK, out)
			return
		}
		name, ok := strings.CutSuffix(strings.TrimPrefix(rest, "/"), "/objects")
		if !ok || name == "" || strings.Contains(name, "/") {
			fail(http.StatusNotFound, "NotFound", "GET "+AdminPrefix+"/buckets/{name}/objects")
			return
		}
		objs, err := h.store.Objects(ctx, name, r.URL.Query().Get("prefix"))
		if errors.Is(err, ErrNoSuchBucket) {
			fail(http.StatusNotFound, "NoSuchBucket", "no bucket "+name)
			return
		}
		if err != nil {
			fail(http.StatusInternalServerError, "InternalError", err.Error())
			return
		}
		out := []objectJSON{}
		for _, o := range objs {
			out = append(out, objectJSON{Key: o.Key, Size: o.Size, ETag: o.ETag, LastModified: o.LastModified, ContentType: o.ContentType, Metadata: o.Metadata})
		}
		write(http.StatusOK, out)
	})
}
