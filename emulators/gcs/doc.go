// Package gcs emulates Google Cloud Storage with IAM for the lab:
// github.com/fsouza/fake-gcs-server (fakestorage, embedded as a library
// without a listener) behind a layer that authenticates and authorizes every
// request as Cloud Storage does, so unmodified cloud.google.com/go/storage
// clients in pods see real 401s and 403s.
//
// The layer:
//
//   - Authentication: Authorization: Bearer TOKEN verified by
//     gcpiam.Handler.VerifyAccessToken (service-account or federated
//     tokens). An unknown or expired token is 401 "Invalid Credentials"
//     (reason authError). No header makes the caller anonymous: allowed only
//     where allUsers is bound, otherwise 401 "Anonymous caller does not have
//     P access to the Google Cloud Storage object. Permission 'P' denied on
//     resource (or it may not exist)." (reason required).
//   - Authorization: Classify maps each request (JSON API /storage/v1/b/...,
//     /upload/storage/v1/b/B/o, /download/storage/v1/b/B/o/O, XML
//     /BUCKET/OBJECT and BUCKET.storage.googleapis.com/OBJECT) to
//     storage.objects.{get,list,create,update,delete,getIamPolicy,
//     setIamPolicy} or storage.buckets.{get,list,create,update,delete,...}
//     on projects/_/buckets/BUCKET (projects/P for bucket list and create),
//     checked with gcpiam.Handler.CheckPermission: roles/storage.objectViewer
//     (get, list), objectCreator (create), objectUser, objectAdmin (all
//     object permissions), storage.admin, and the basic roles. Denied is 403
//     "EMAIL does not have P access to the Google Cloud Storage object|bucket
//     (Google Cloud project for bucket list/create). Permission 'P' denied on
//     resource (or it may not exist)." (reason forbidden). Tokens whose
//     scopes do not cover the call get 403 "Provided scope(s) are not
//     authorized". XML API errors are <Error><Code>AccessDenied|
//     AuthenticationRequired</Code><Message/><Details/></Error>.
//   - Every allow and deny is in gcpiam.Handler.Decisions().
//
// Not supported (501): the batch endpoint, /upload/resumable/ID session URLs
// (resumable uploads through /upload/storage/v1/b/B/o?upload_id= work), XML
// bucket-level writes. fake-gcs-server's /_internal admin paths are hidden.
//
// Point the Go client at Server.URL()+"/storage/v1/": the client then reads
// objects over the XML API at https://127.0.0.1:PORT/BUCKET/OBJECT, which the
// layer serves too. With Options.DataDir objects persist in
// fake-gcs-server's filesystem backend under DataDir/gcs.
package gcs
