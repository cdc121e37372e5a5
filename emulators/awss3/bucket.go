package awss3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/lazyre"
)

var (
	bucketNameRe = lazyre.New(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionRe     = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
)

// validBucketName applies S3's general purpose bucket naming rules.
func validBucketName(name string) bool {
	if !bucketNameRe.MatchString(name) || strings.Contains(name, "..") || net.ParseIP(name) != nil {
		return false
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return true
}

func errInvalidBucketName(name string) *Error {
	return newError(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.").with("BucketName", name)
}

func listBuckets(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	if err := rc.authorize(ctx, "s3:ListAllMyBuckets", "arn:aws:s3:::*", nil, nil); err != nil {
		return err
	}
	all, err := rc.h.store.Buckets(ctx)
	if err != nil {
		return fmt.Errorf("list buckets: %w", err)
	}
	res := listAllMyBucketsResult{Xmlns: Namespace, Owner: ownerOf(rc.principal.Account), Buckets: []bucketElem{}}
	for _, b := range all {
		if b.Owner == rc.principal.Account {
			res.Buckets = append(res.Buckets, bucketElem{Name: b.Name, CreationDate: xmlTime(b.Created), BucketRegion: b.Region})
		}
	}
	return rc.writeXML(w, http.StatusOK, res)
}

func createBucket(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	name := rc.bucket
	if !validBucketName(name) {
		return errInvalidBucketName(name)
	}
	extra := map[string][]string{}
	if acl := rc.r.Header.Get("x-amz-acl"); acl != "" {
		extra["s3:x-amz-acl"] = []string{acl}
	}
	if err := rc.authorize(ctx, "s3:CreateBucket", arn(name, ""), nil, extra); err != nil {
		return err
	}
	b, err := rc.readBody(maxXMLBody, false)
	if err != nil {
		return err
	}
	constraint, err := parseCreateBucketConfiguration(b.data)
	if err != nil {
		return err
	}
	region, err := bucketRegion(constraint, rc.region)
	if err != nil {
		return err
	}
	err = rc.h.store.CreateBucket(ctx, Bucket{Name: name, Owner: rc.principal.Account, Region: region, Created: rc.now.UTC()})
	if errors.Is(err, ErrBucketExists) {
		existing, lerr := rc.h.store.Bucket(ctx, name)
		if lerr != nil {
			return fmt.Errorf("create bucket %q: %w", name, lerr)
		}
		if existing.Owner != rc.principal.Account {
			return newError(http.StatusConflict, "BucketAlreadyExists", "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.").
				with("BucketName", name)
		}
		// us-east-1 keeps the legacy answer: 200 for a bucket you own.
		if existing.Region != "us-east-1" || rc.region != "us-east-1" {
			return newError(http.StatusConflict, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.").
				with("BucketName", name)
		}
	} else if err != nil {
		return fmt.Errorf("create bucket %q: %w", name, err)
	}
	w.Header().Set("Location", "/"+name)
	rc.writeEmpty(w, http.StatusOK)
	return nil
}

// bucketRegion checks a LocationConstraint against the region of the
// endpoint the request reached, as S3 does.
func bucketRegion(constraint, endpoint string) (string, error) {
	switch {
	case constraint == "" && endpoint == "us-east-1":
		return "us-east-1", nil
	case constraint == "":
		return "", newError(http.StatusBadRequest, "IllegalLocationConstraintException",
			"The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.")
	case constraint == "us-east-1" || !regionRe.MatchString(constraint) && constraint != "EU":
		return "", newError(http.StatusBadRequest, "InvalidLocationConstraint", "The specified location-constraint is not valid").
			with("LocationConstraint", constraint)
	}
	region := constraint
	if region == "EU" {
		region = "eu-west-1"
	}
	if region != endpoint {
		return "", newError(http.StatusBadRequest, "IllegalLocationConstraintException",
			"The %s location constraint is incompatible for the region specific endpoint this request was sent to.", constraint)
	}
	return region, nil
}

func headBucket(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	b, err := rc.lookupBucket(ctx, rc.bucket)
	if err != nil {
		return err
	}
	if err := rc.authorize(ctx, "s3:ListBucket", arn(b.Name, ""), &b, nil); err != nil {
		return err
	}
	w.Header().Set("x-amz-bucket-region", b.Region)
	w.Header().Set("x-amz-access-point-alias", "false")
	rc.writeEmpty(w, http.StatusOK)
	return nil
}

func deleteBucket(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	b, err := rc.lookupBucket(ctx, rc.bucket)
	if err != nil {
		return err
	}
	if err := rc.authorize(ctx, "s3:DeleteBucket", arn(b.Name, ""), &b, nil); err != nil {
		return err
	}
	switch err := rc.h.store.DeleteBucket(ctx, b.Name); {
	case errors.Is(err, ErrBucketNotEmpty):
		return newError(http.StatusConflict, "BucketNotEmpty", "The bucket you tried to delete is not empty").with("BucketName", b.Name)
	case errors.Is(err, ErrNoSuchBucket):
		return errNoSuchBucket(b.Name)
	case err != nil:
		return fmt.Errorf("delete bucket %q: %w", b.Name, err)
	}
	rc.writeEmpty(w, http.StatusNoContent)
	return nil
}

func getBucketLocation(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	b, err := rc.lookupBucket(ctx, rc.bucket)
	if err != nil {
		return err
	}
	if err := rc.authorize(ctx, "s3:GetBucketLocation", arn(b.Name, ""), &b, nil); err != nil {
		return err
	}
	loc := b.Region
	if loc == "us-east-1" {
		loc = ""
	}
	return rc.writeXML(w, http.StatusOK, locationConstraint{Xmlns: Namespace, Value: loc})
}

func getBucketPolicy(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	b, err := rc.lookupBucket(ctx, rc.bucket)
	if err != nil {
		return err
	}
	if err := rc.authorize(ctx, "s3:GetBucketPolicy", arn(b.Name, ""), &b, nil); err != nil {
		return err
	}
	if len(b.Policy) == 0 {
		return newError(http.StatusNotFound, "NoSuchBucketPolicy", "The bucket policy does not exist").with("BucketName", b.Name)
	}
	rc.setCommonHeaders(w)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b.Policy)))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b.Policy)
	return err
}

func putBucketPolicy(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	b, err := rc.lookupBucket(ctx, rc.bucket)
	if err != nil {
		return err
	}
	if err := rc.authorize(ctx, "s3:PutBucketPolicy", arn(b.Name, ""), &b, nil); err != nil {
		return err
	}
	body, err := rc.readBody(awsiam.MaxResourcePolicySize*4, false)
	if err != nil {
		return err
	}
	if err := validateBucketPolicy(b.Name, body.data); err != nil {
		return err
	}
	if err := rc.h.store.SetBucketPolicy(ctx, b.Name, body.data); err != nil {
		return fmt.Errorf("put bucket policy %q: %w", b.Name, err)
	}
	rc.writeEmpty(w, http.StatusNoContent)
	return nil
}

// validateBucketPolicy parses a policy as a resource policy and checks that
// its resources are in the bucket, as S3 does.
func validateBucketPolicy(bucket string, doc []byte) error {
	p, err := awsiam.ParsePolicy(doc)
	if err == nil {
		err = p.ValidateFor(awsiam.ResourcePolicy)
	}
	if err != nil {
		return newError(http.StatusBadRequest, "MalformedPolicy", "%s", err.Error())
	}
	for _, s := range p.Statements {
		for _, r := range append(append([]string{}, s.Resource...), s.NotResource...) {
			if !strings.HasPrefix(r, "arn:aws:s3:::"+bucket) {
				return newError(http.StatusBadRequest, "MalformedPolicy", "Policy has invalid resource")
			}
		}
	}
	return nil
}

func deleteBucketPolicy(ctx context.Context, rc *reqCtx, w http.ResponseWriter) error {
	b, err := rc.lookupBucket(ctx, rc.bucket)
	if err != nil {
		return err
	}
	if err := rc.authorize(ctx, "s3:DeleteBucketPolicy", arn(b.Name, ""), &b, nil); err != nil {
		return err
	}
	if err := rc.h.store.SetBucketPolicy(ctx, b.Name, nil); err != nil {
		return fmt.Errorf("delete bucket policy %q: %w", b.Name, err)
	}
	rc.writeEmpty(w, http.StatusNoContent)
	return nil
}
