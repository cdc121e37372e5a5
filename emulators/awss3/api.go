package awss3

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/idlab/idlab/emulators/awsiam"
)

// BucketSpec seeds a bucket from fixtures.
type BucketSpec struct {
	Name   string
	Owner  string // 12-digit account ID
	Region string // Defaults to Options.Region.
	Policy *awsiam.Policy
}

var accountRe = regexp.MustCompile(`^[0-9]{12}$`)

// CreateBucket seeds a bucket. It is idempotent for the same owner (the
// policy is replaced with spec.Policy); another owner's bucket of the same
// name is ErrBucketExists.
func (h *Handler) CreateBucket(ctx context.Context, spec BucketSpec) error {
	if !validBucketName(spec.Name) {
		return fmt.Errorf("awss3: create bucket %q: invalid bucket name", spec.Name)
	}
	if !accountRe.MatchString(spec.Owner) {
		return fmt.Errorf("awss3: create bucket %q: owner %q is not a 12-digit account ID", spec.Name, spec.Owner)
	}
	var policy []byte
	if spec.Policy != nil {
		if err := spec.Policy.ValidateFor(awsiam.ResourcePolicy); err != nil {
			return fmt.Errorf("awss3: create bucket %q: policy: %w", spec.Name, err)
		}
		policy = spec.Policy.Raw
		if len(policy) == 0 {
			b, err := spec.Policy.MarshalJSON()
			if err != nil {
				return fmt.Errorf("awss3: create bucket %q: policy: %w", spec.Name, err)
			}
			policy = b
		}
	}
	region := spec.Region
	if region == "" {
		region = h.region
	}
	err := h.store.CreateBucket(ctx, Bucket{Name: spec.Name, Owner: spec.Owner, Region: region, Created: h.now().UTC(), Policy: policy})
	if errors.Is(err, ErrBucketExists) {
		b, lerr := h.store.Bucket(ctx, spec.Name)
		if lerr != nil {
			return fmt.Errorf("awss3: create bucket %q: %w", spec.Name, lerr)
		}
		if b.Owner != spec.Owner {
			return fmt.Errorf("awss3: create bucket %q: owned by %s: %w", spec.Name, b.Owner, ErrBucketExists)
		}
		err = h.store.SetBucketPolicy(ctx, spec.Name, policy)
	}
	if err != nil {
		return fmt.Errorf("awss3: create bucket %q: %w", spec.Name, err)
	}
	h.log.Info("s3 bucket seeded", "bucket", spec.Name, "owner", spec.Owner, "region", region)
	return nil
}

// PutObject seeds an object, bypassing authentication and authorization.
func (h *Handler) PutObject(ctx context.Context, bucket, key string, data []byte, contentType string) error {
	if contentType == "" {
		contentType = "binary/octet-stream"
	}
	o := Object{Key: key, Size: int64(len(data)), ETag: quotedMD5(md5.Sum(data)), LastModified: h.now().UTC().Truncate(time.Millisecond),
		ContentType: contentType}
	if err := h.store.PutObject(ctx, bucket, o, append([]byte(nil), data...)); err != nil {
		return fmt.Errorf("awss3: put object %s/%s: %w", bucket, key, err)
	}
	return nil
}

// GetObject reads an object, bypassing authentication and authorization.
func (h *Handler) GetObject(ctx context.Context, bucket, key string) ([]byte, error) {
	o, err := h.store.Object(ctx, bucket, key)
	if err != nil {
		return nil, fmt.Errorf("awss3: get object %s/%s: %w", bucket, key, err)
	}
	data, err := h.store.ObjectData(ctx, bucket, o)
	if err != nil {
		return nil, fmt.Errorf("awss3: get object %s/%s: %w", bucket, key, err)
	}
	return append([]byte(nil), data...), nil
}
