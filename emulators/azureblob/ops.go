package azureblob

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// MaxPutBlobBytes bounds a Put Blob body in the emulator (Azure allows
// 5000 MiB); larger bodies get 413 RequestBodyTooLarge.
const MaxPutBlobBytes = 64 << 20

// lookup returns the blob, or the 404 Azure answers.
func (h *Handler) lookup(t target) (*blob, *storageError) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	c, ok := h.accounts[t.Account].Containers[t.Container]
	if !ok {
		return nil, &storageError{status: http.StatusNotFound, code: CodeContainerNotFound, msg: msgNoContainer}
	}
	if t.Blob == "" {
		return nil, nil
	}
	b, ok := c.Blobs[t.Blob]
	if !ok {
		return nil, &storageError{status: http.StatusNotFound, code: CodeBlobNotFound, msg: msgNoBlob}
	}
	return b, nil
}

func blobHeaders(w http.ResponseWriter, b *blob) {
	hd := w.Header()
	hd.Set("Content-Type", b.ContentType)
	hd.Set("ETag", b.etag())
	hd.Set("Last-Modified", b.Modified.Format(http.TimeFormat))
	hd.Set("x-ms-creation-time", b.Created.Format(http.TimeFormat))
	hd.Set("x-ms-blob-type", "BlockBlob")
	hd.Set("x-ms-lease-status", "unlocked")
	hd.Set("x-ms-lease-state", "available")
	hd.Set("x-ms-server-encrypted", "true")
	hd.Set("Accept-Ranges", "bytes")
}

// getBlob serves Get Blob (with x-ms-range or Range) and Get Blob
// Properties.
func (h *Handler) getBlob(w http.ResponseWriter, r *http.Request, t target, fail func(*storageError)) {
	b, serr := h.lookup(t)
	if serr != nil {
		fail(serr)
		return
	}
	blobHeaders(w, b)
	data := b.Data
	status := http.StatusOK
	if t.Op == OpGetBlob {
		rng := r.Header.Get("x-ms-range")
		if rng == "" {
			rng = r.Header.Get("Range")
		}
		if rng != "" {
			start, end, ok := ParseRange(rng, int64(len(data)))
			if !ok {
				fail(&storageError{status: http.StatusRequestedRangeNotSatisfiable, code: CodeInvalidRange, msg: "The range specified is invalid for the current size of the resource."})
				return
			}
			w.Header().Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end, 10)+"/"+strconv.Itoa(len(data)))
			data, status = data[start:end+1], http.StatusPartialContent
		} else {
			w.Header().Set("Content-MD5", base64.StdEncoding.EncodeToString(b.md5()))
		}
	} else {
		w.Header().Set("Content-MD5", base64.StdEncoding.EncodeToString(b.md5()))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
}

// ParseRange reads "bytes=START-END" or "bytes=START-" against a blob of
// size bytes and returns the inclusive range; ok is false when the value
// is malformed or the range is unsatisfiable.
func ParseRange(v string, size int64) (start, end int64, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 || start >= size {
		return 0, 0, false
	}
	end = size - 1
	if b != "" {
		e, err := strconv.ParseInt(b, 10, 64)
		if err != nil || e < start {
			return 0, 0, false
		}
		end = min(e, size-1)
	}
	return start, end, true
}

// putBlob serves Put Blob for block blobs.
func (h *Handler) putBlob(w http.ResponseWriter, r *http.Request, t target, fail func(*storageError)) {
	switch bt := r.Header.Get("x-ms-blob-type"); bt {
	case "BlockBlob":
	case "":
		fail(&storageError{status: http.StatusBadRequest, code: CodeMissingRequiredHeader,
			msg: "An HTTP header that's mandatory for this request is not specified.", extra: [][2]string{{"HeaderName", "x-ms-blob-type"}}})
		return
	default:
		fail(&storageError{status: http.StatusBadRequest, code: CodeInvalidHeaderValue,
			msg: "The value for one of the HTTP headers is not in the correct format.", extra: [][2]string{{"HeaderName", "x-ms-blob-type"}, {"HeaderValue", bt}}})
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxPutBlobBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(&storageError{status: http.StatusRequestEntityTooLarge, code: CodeRequestBodyTooLarge, msg: "The request body is too large and exceeds the maximum permissible limit."})
			return
		}
		fail(&storageError{status: http.StatusBadRequest, code: "InvalidInput", msg: "One of the request inputs is not valid."})
		return
	}
	ct := r.Header.Get("x-ms-blob-content-type")
	if ct == "" {
		ct = r.Header.Get("Content-Type")
	}
	h.mu.Lock()
	c, ok := h.accounts[t.Account].Containers[t.Container]
	if !ok {
		h.mu.Unlock()
		fail(&storageError{status: http.StatusNotFound, code: CodeContainerNotFound, msg: msgNoContainer})
		return
	}
	if _, exists := c.Blobs[t.Blob]; exists && r.Header.Get("If-None-Match") == "*" {
		h.mu.Unlock()
		fail(&storageError{status: http.StatusConflict, code: CodeBlobAlreadyExists, msg: "The specified blob already exists."})
		return
	}
	b := h.putLocked(c, t.Blob, data, ct)
	err = h.saveLocked()
	h.mu.Unlock()
	if err != nil {
		h.log.Error("persist blob", "err", err)
		fail(&storageError{status: http.StatusInternalServerError, code: "InternalError", msg: "The server encountered an internal error. Please retry the request."})
		return
	}
	hd := w.Header()
	hd.Set("ETag", b.etag())
	hd.Set("Last-Modified", b.Modified.Format(http.TimeFormat))
	hd.Set("Content-MD5", base64.StdEncoding.EncodeToString(b.md5()))
	hd.Set("x-ms-request-server-encrypted", "true")
	hd.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// listBlobsResult is List Blobs' EnumerationResults.
type listBlobsResult struct {
	XMLName         xml.Name       `xml:"EnumerationResults"`
	ServiceEndpoint string         `xml:"ServiceEndpoint,attr"`
	ContainerName   string         `xml:"ContainerName,attr"`
	Prefix          string         `xml:"Prefix,omitempty"`
	Marker          string         `xml:"Marker,omitempty"`
	MaxResults      int            `xml:"MaxResults,omitempty"`
	Delimiter       string         `xml:"Delimiter,omitempty"`
	Blobs           listBlobsItems `xml:"Blobs"`
	NextMarker      string         `xml:"NextMarker"`
}

type listBlobsItems struct {
	Blob       []listBlob   `xml:"Blob"`
	BlobPrefix []blobPrefix `xml:"BlobPrefix"`
}

type blobPrefix struct {
	Name string `xml:"Name"`
}

type listBlob struct {
	Name       string        `xml:"Name"`
	Properties listBlobProps `xml:"Properties"`
}

type listBlobProps struct {
	CreationTime       string `xml:"Creation-Time"`
	LastModified       string `xml:"Last-Modified"`
	Etag               string `xml:"Etag"`
	ContentLength      int    `xml:"Content-Length"`
	ContentType        string `xml:"Content-Type"`
	ContentMD5         string `xml:"Content-MD5"`
	BlobType           string `xml:"BlobType"`
	AccessTier         string `xml:"AccessTier"`
	AccessTierInferred bool   `xml:"AccessTierInferred"`
	LeaseStatus        string `xml:"LeaseStatus"`
	LeaseState         string `xml:"LeaseState"`
	ServerEncrypted    bool   `xml:"ServerEncrypted"`
}

// listBlobs serves List Blobs: prefix, delimiter, marker (the first name
// of the next page) and maxresults (1..5000).
func (h *Handler) listBlobs(w http.ResponseWriter, r *http.Request, t target, fail func(*storageError)) {
	q := r.URL.Query()
	maxResults := 5000
	if v := q.Get("maxresults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			fail(&storageError{status: http.StatusBadRequest, code: CodeInvalidQueryParameterValue,
				msg: "Value for one of the query parameters specified in the request URI is invalid.", extra: [][2]string{{"QueryParameterName", "maxresults"}, {"QueryParameterValue", v}}})
			return
		}
		maxResults = min(n, 5000)
	}
	if _, serr := h.lookup(t); serr != nil {
		fail(serr)
		return
	}
	prefix, delim, marker := q.Get("prefix"), q.Get("delimiter"), q.Get("marker")
	out := listBlobsResult{ServiceEndpoint: "https://" + t.Account + BlobHostSuffix + "/", ContainerName: t.Container,
		Prefix: prefix, Marker: marker, Delimiter: delim}
	if q.Get("maxresults") != "" {
		out.MaxResults = maxResults
	}
	h.mu.RLock()
	c := h.accounts[t.Account].Containers[t.Container]
	seen := map[string]bool{}
	n := 0
	for _, name := range c.sortedBlobNames() {
		if !strings.HasPrefix(name, prefix) || name < marker {
			continue
		}
		entry := name
		if delim != "" {
			if i := strings.Index(name[len(prefix):], delim); i >= 0 {
				entry = name[:len(prefix)+i+len(delim)]
			}
		}
		if seen[entry] {
			continue
		}
		if n == maxResults {
			out.NextMarker = name
			break
		}
		seen[entry] = true
		n++
		if entry != name {
			out.Blobs.BlobPrefix = append(out.Blobs.BlobPrefix, blobPrefix{Name: entry})
			continue
		}
		b := c.Blobs[name]
		out.Blobs.Blob = append(out.Blobs.Blob, listBlob{Name: name, Properties: listBlobProps{
			CreationTime: b.Created.Format(http.TimeFormat), LastModified: b.Modified.Format(http.TimeFormat), Etag: strings.Trim(b.etag(), `"`),
			ContentLength: len(b.Data), ContentType: b.ContentType, ContentMD5: base64.StdEncoding.EncodeToString(b.md5()),
			BlobType: "BlockBlob", AccessTier: "Hot", AccessTierInferred: true, LeaseStatus: "unlocked", LeaseState: "available", ServerEncrypted: true,
		}})
	}
	h.mu.RUnlock()
	body, err := xml.Marshal(out)
	if err != nil {
		fail(&storageError{status: http.StatusInternalServerError, code: "InternalError", msg: "The server encountered an internal error. Please retry the request."})
		return
	}
	body = append([]byte(xml.Header), body...)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
