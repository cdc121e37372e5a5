package gcs

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
)

// gcsError is a Cloud Storage error, rendered once: JSON API
// {"error":{"code","message","errors":[{message, domain, reason, ...}]}},
// XML API <Error><Code/><Message/><Details/></Error>.
type gcsError struct {
	Status   int
	Message  string
	Reason   string // JSON errors[].reason: required, authError, forbidden, notFound, ...
	Location bool   // the problem is the Authorization header
	XMLCode  string // AccessDenied, AuthenticationRequired, ...
	XMLMsg   string
}

func denied(who string, a access) *gcsError {
	msg := who + " does not have " + a.Permission + " access to the " + a.noun + ". Permission '" + a.Permission + "' denied on resource (or it may not exist)."
	status, reason, code, xmsg := http.StatusForbidden, "forbidden", "AccessDenied", "Access denied."
	loc := false
	if who == "Anonymous caller" {
		status, reason, code, xmsg, loc = http.StatusUnauthorized, "required", "AuthenticationRequired", "Authentication required.", true
	}
	return &gcsError{Status: status, Message: msg, Reason: reason, Location: loc, XMLCode: code, XMLMsg: xmsg}
}

func invalidCredentials() *gcsError {
	return &gcsError{Status: http.StatusUnauthorized, Message: "Invalid Credentials", Reason: "authError", Location: true,
		XMLCode: "AuthenticationRequired", XMLMsg: "Authentication required."}
}

func insufficientScope() *gcsError {
	return &gcsError{Status: http.StatusForbidden, Message: "Provided scope(s) are not authorized", Reason: "forbidden",
		XMLCode: "AccessDenied", XMLMsg: "Access denied."}
}

func notFound(msg string) *gcsError {
	return &gcsError{Status: http.StatusNotFound, Message: msg, Reason: "notFound", XMLCode: "NoSuchKey", XMLMsg: msg}
}

func unsupported(msg string) *gcsError {
	return &gcsError{Status: http.StatusNotImplemented, Message: msg, Reason: "notImplemented", XMLCode: "NotImplemented", XMLMsg: msg}
}

func writeError(w http.ResponseWriter, e *gcsError, asXML bool) {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
	}
	if asXML {
		w.Header().Set("Content-Type", "application/xml; charset=UTF-8")
		w.WriteHeader(e.Status)
		details := e.Message
		_, _ = w.Write([]byte("<?xml version='1.0' encoding='UTF-8'?>"))
		_ = xml.NewEncoder(w).Encode(struct {
			XMLName xml.Name `xml:"Error"`
			Code    string   `xml:"Code"`
			Message string   `xml:"Message"`
			Details string   `xml:"Details,omitempty"`
		}{Code: e.XMLCode, Message: e.XMLMsg, Details: details})
		return
	}
	item := map[string]string{"message": e.Message, "domain": "global", "reason": e.Reason}
	if e.Location {
		item["locationType"], item["location"] = "header", "Authorization"
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.Status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(map[string]any{"error": map[string]any{"code": e.Status, "message": e.Message, "errors": []any{item}}})
}
