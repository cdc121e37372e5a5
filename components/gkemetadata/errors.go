package gkemetadata

import (
	"fmt"
	"net/http"
)

// mdError is an answer other than 200: GKE's metadata server writes them
// as text/plain bodies with the status below. writeError renders them.
type mdError struct {
	Status int
	Body   string // written as is; GKE's bodies end in a newline
	Reason string // for the decision log only
}

func (e *mdError) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Body) }

// Texts of GKE's metadata server. msgMissingFlavor, msgNoGSAForIdentity and
// the "Unable to generate access token" text of iamError are GKE's own
// (as users report them); the others follow their style.
const (
	msgMissingFlavor    = "Missing required header \"Metadata-Flavor\": \"Google\"\n"
	msgForwarded        = "Requests with the X-Forwarded-For header are not allowed by the metadata server.\n"
	msgNoGSAForIdentity = "Your Kubernetes service account (%s/%s) is not annotated with a target Google service account, which is a requirement for retrieving Identity Tokens using Workload Identity.\n" +
		"Please add the iam.gke.io/gcp-service-account=[GSA_NAME]@[PROJECT_ID] annotation to your Kubernetes service account.\n" +
		"Refer to https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity\n"
	msgWorkloadIdentityDoc = "This error could be caused by a missing IAM policy binding on the target IAM service account.\n" +
		"For more information, refer to the Workload Identity documentation:\n" +
		"\thttps://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity#authenticating_to\n\n"
)

func notFound(path string) *mdError {
	return &mdError{Status: http.StatusNotFound, Body: notFoundBody(path), Reason: "no such metadata path"}
}

// notFoundBody is the plain 404 body of the metadata server.
func notFoundBody(path string) string {
	return fmt.Sprintf("Not Found: %s\n", path)
}

func badRequest(body, reason string) *mdError {
	return &mdError{Status: http.StatusBadRequest, Body: body, Reason: reason}
}

func internalError(reason string) *mdError {
	return &mdError{Status: http.StatusInternalServerError, Body: "Internal Server Error: " + reason + "\n", Reason: reason}
}

// writeError renders e as GKE's metadata server does.
func writeError(w http.ResponseWriter, e *mdError) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	_, _ = w.Write([]byte(e.Body))
}
