package awss3

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Sentinel store errors; handlers turn them into S3 error codes.
var (
	ErrNoSuchBucket     = errors.New("no such bucket")
	ErrBucketExists     = errors.New("bucket already exists")
	ErrBucketNotEmpty   = errors.New("bucket not empty")
	ErrNoSuchKey        = errors.New("no such key")
	ErrNoSuchUpload     = errors.New("no such upload")
	ErrNoSuchPart       = errors.New("no such part")
	ErrCorruptDataStore = errors.New("corrupt data store")
)

// Bucket is a bucket's metadata.
type Bucket struct {
	Name    string    `json:"name"`
	Owner   string    `json:"owner"` // 12-digit account ID
	Region  string    `json:"region"`
	Created time.Time `json:"created"`
	// Policy is the bucket policy document as PutBucketPolicy received it,
	// or nil.
	Policy []byte `json:"policy,omitempty"`
}

// Checksum is a whole-object checksum the client sent (algorithm in
// lower case: crc32, crc32c, crc64nvme, sha1, sha256; value base64).
type Checksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"value"`
}

// Object is an object's metadata; its bytes are fetched with ObjectData.
type Object struct {
	Key          string            `json:"key"`
	Size         int64             `json:"size"`
	ETag         string            `json:"etag"` // quoted
	LastModified time.Time         `json:"lastModified"`
	ContentType  string            `json:"contentType,omitempty"`
	Headers      map[string]string `json:"headers,omitempty"`  // Cache-Control, Content-Disposition, ...
	Metadata     map[string]string `json:"metadata,omitempty"` // x-amz-meta-* without the prefix, lower-cased
	Checksum     *Checksum         `json:"checksum,omitempty"`
	Parts        int               `json:"parts,omitempty"` // part count of a multipart object
	// DataFile named the file holding the bytes in the disk store's
	// layout before its object log; read when migrating one.
	DataFile string `json:"dataFile,omitempty"`
	// loc is where the disk store's log holds the object.
	loc *objLoc
}

// Part is an uploaded part of a multipart upload.
type Part struct {
	Number       int       `json:"number"`
	Size         int64     `json:"size"`
	ETag         string    `json:"etag"` // quoted
	LastModified time.Time `json:"lastModified"`
	DataFile     string    `json:"dataFile,omitempty"`
}

// Upload is an in-progress multipart upload.
type Upload struct {
	ID                string            `json:"id"`
	Bucket            string            `json:"bucket"`
	Key               string            `json:"key"`
	Initiated         time.Time         `json:"initiated"`
	Initiator         string            `json:"initiator"` // principal ARN
	InitiatorID       string            `json:"initiatorId"`
	Owner             string            `json:"owner"` // account
	ContentType       string            `json:"contentType,omitempty"`
	Headers           map[string]string `json:"headers,omitempty"`
	Metadata          map[string]string `json:"metadata,omitempty"`
	ChecksumAlgorithm string            `json:"checksumAlgorithm,omitempty"`
	Parts             map[int]Part      `json:"parts,omitempty"`
}

// Store holds buckets, objects and multipart uploads. Implementations are
// safe for concurrent use; every write is all-or-nothing.
type Store interface {
	// CreateBucket adds b; ErrBucketExists when the name is taken.
	CreateBucket(ctx context.Context, b Bucket) error
	Bucket(ctx context.Context, name string) (Bucket, error)
	Buckets(ctx context.Context) ([]Bucket, error)
	// DeleteBucket removes an empty bucket; ErrBucketNotEmpty otherwise.
	DeleteBucket(ctx context.Context, name string) error
	// SetBucketPolicy replaces the policy; nil deletes it.
	SetBucketPolicy(ctx context.Context, name string, policy []byte) error

	PutObject(ctx context.Context, bucket string, o Object, data []byte) error
	Object(ctx context.Context, bucket, key string) (Object, error)
	ObjectData(ctx context.Context, bucket string, o Object) ([]byte, error)
	DeleteObject(ctx context.Context, bucket, key string) error
	// Objects lists the objects whose keys start with prefix, sorted by key.
	Objects(ctx context.Context, bucket, prefix string) ([]Object, error)

	CreateUpload(ctx context.Context, u Upload) error
	Upload(ctx context.Context, bucket, id string) (Upload, error)
	Uploads(ctx context.Context, bucket string) ([]Upload, error)
	PutPart(ctx context.Context, bucket, id string, p Part, data []byte) error
	PartData(ctx context.Context, bucket, id string, p Part) ([]byte, error)
	DeleteUpload(ctx context.Context, bucket, id string) error
}

// memBucket is a bucket and its contents in memory.
type memBucket struct {
	meta    Bucket
	objects map[string]Object
	data    map[string][]byte
	uploads map[string]*memUpload
}

type memUpload struct {
	meta Upload
	data map[int][]byte
}

// memStore keeps everything in memory. The disk store reuses it as its
// index, with nil data.
type memStore struct {
	mu      sync.RWMutex
	buckets map[string]*memBucket
}

// NewMemoryStore returns an empty in-memory Store.
func NewMemoryStore() Store { return newMemStore() }

func newMemStore() *memStore { return &memStore{buckets: map[string]*memBucket{}} }

func (m *memStore) bucket(name string) (*memBucket, error) {
	b, ok := m.buckets[name]
	if !ok {
		return nil, ErrNoSuchBucket
	}
	return b, nil
}

func (m *memStore) CreateBucket(_ context.Context, b Bucket) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.buckets[b.Name]; ok {
		return ErrBucketExists
	}
	m.buckets[b.Name] = &memBucket{meta: b, objects: map[string]Object{}, data: map[string][]byte{}, uploads: map[string]*memUpload{}}
	return nil
}

func (m *memStore) Bucket(_ context.Context, name string) (Bucket, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b, err := m.bucket(name)
	if err != nil {
		return Bucket{}, err
	}
	return b.meta, nil
}

func (m *memStore) Buckets(context.Context) ([]Bucket, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]Bucket, 0, len(m.buckets))
	for _, b := range m.buckets {
		out = append(out, b.meta)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// emptyLocked reports whether the bucket may be deleted (S3 also refuses
// while multipart uploads are in progress).
func (m *memStore) emptyLocked(name string) error {
	b, err := m.bucket(name)
	if err != nil {
		return err
	}
	if len(b.objects) > 0 || len(b.uploads) > 0 {
		return ErrBucketNotEmpty
	}
	return nil
}

func (m *memStore) DeleteBucket(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.emptyLocked(name); err != nil {
		return err
	}
	delete(m.buckets, name)
	return nil
}

func (m *memStore) SetBucketPolicy(_ context.Context, name string, policy []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(name)
	if err != nil {
		return err
	}
	b.meta.Policy = slices.Clone(policy)
	return nil
}

func (m *memStore) PutObject(_ context.Context, bucket string, o Object, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return err
	}
	b.objects[o.Key] = o
	b.data[o.Key] = data
	return nil
}

func (m *memStore) Object(_ context.Context, bucket, key string) (Object, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return Object{}, err
	}
	o, ok := b.objects[key]
	if !ok {
		return Object{}, ErrNoSuchKey
	}
	return o, nil
}

func (m *memStore) ObjectData(_ context.Context, bucket string, o Object) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return nil, err
	}
	d, ok := b.data[o.Key]
	if !ok {
		return nil, ErrNoSuchKey
	}
	return d, nil
}

func (m *memStore) DeleteObject(_ context.Context, bucket, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return err
	}
	delete(b.objects, key)
	delete(b.data, key)
	return nil
}

func (m *memStore) Objects(_ context.Context, bucket, prefix string) ([]Object, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return nil, err
	}
	var out []Object
	for k, o := range b.objects {
		if strings.HasPrefix(k, prefix) {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (m *memStore) CreateUpload(_ context.Context, u Upload) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(u.Bucket)
	if err != nil {
		return err
	}
	if u.Parts == nil {
		u.Parts = map[int]Part{}
	}
	b.uploads[u.ID] = &memUpload{meta: u, data: map[int][]byte{}}
	return nil
}

func (m *memStore) upload(bucket, id string) (*memUpload, error) {
	b, err := m.bucket(bucket)
	if err != nil {
		return nil, err
	}
	u, ok := b.uploads[id]
	if !ok {
		return nil, ErrNoSuchUpload
	}
	return u, nil
}

func cloneUpload(u Upload) Upload {
	u.Parts = maps.Clone(u.Parts)
	return u
}

func (m *memStore) Upload(_ context.Context, bucket, id string) (Upload, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	u, err := m.upload(bucket, id)
	if err != nil {
		return Upload{}, err
	}
	return cloneUpload(u.meta), nil
}

func (m *memStore) Uploads(_ context.Context, bucket string) ([]Upload, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return nil, err
	}
	out := make([]Upload, 0, len(b.uploads))
	for _, u := range b.uploads {
		out = append(out, cloneUpload(u.meta))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (m *memStore) PutPart(_ context.Context, bucket, id string, p Part, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, err := m.upload(bucket, id)
	if err != nil {
		return err
	}
	u.meta.Parts[p.Number] = p
	u.data[p.Number] = data
	return nil
}

func (m *memStore) PartData(_ context.Context, bucket, id string, p Part) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	u, err := m.upload(bucket, id)
	if err != nil {
		return nil, err
	}
	d, ok := u.data[p.Number]
	if !ok {
		return nil, ErrNoSuchPart
	}
	return d, nil
}

func (m *memStore) DeleteUpload(_ context.Context, bucket, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return err
	}
	if _, ok := b.uploads[id]; !ok {
		return ErrNoSuchUpload
	}
	delete(b.uploads, id)
	return nil
}
