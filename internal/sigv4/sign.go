package sigv4

import (
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Credentials sign a request: an access key pair and, for a session, its
// token (sent as X-Amz-Security-Token).
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// Sign signs r (whose body is body) for region and service at now, in the
// Authorization-header form the SDKs use for non-S3 services: it sets Host
// from the URL, X-Amz-Date, X-Amz-Security-Token for a session, and signs
// host, x-amz-date, the token and Content-Type when set. It is the client
// side of Verify, for the lab components that call the emulated AWS APIs
// as AWS's own agents do (the EKS Pod Identity Agent calling EKS Auth).
func Sign(r *http.Request, body []byte, creds Credentials, region, service string, now time.Time) error {
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return errors.New("sigv4: sign: no credentials")
	}
	if r.Host == "" {
		r.Host = r.URL.Host
	}
	now = now.UTC()
	s := &Signature{
		AccessKeyID: creds.AccessKeyID, Date: now.Format("20060102"), Region: region, Service: service,
		AmzDate: now.Format(TimeFormat), Time: now,
	}
	r.Header.Set("X-Amz-Date", s.AmzDate)
	s.SignedHeaders = []string{"host", "x-amz-date"}
	if creds.SessionToken != "" {
		r.Header.Set("X-Amz-Security-Token", creds.SessionToken)
		s.SignedHeaders = append(s.SignedHeaders, "x-amz-security-token")
	}
	if r.Header.Get("Content-Type") != "" {
		s.SignedHeaders = append(s.SignedHeaders, "content-type")
	}
	sort.Strings(s.SignedHeaders)
	creq, err := CanonicalRequest(r, s, Options{Body: body})
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", Algorithm+" Credential="+creds.AccessKeyID+"/"+s.Scope()+
		", SignedHeaders="+strings.Join(s.SignedHeaders, ";")+", Signature="+signature(creds.SecretAccessKey, s, creq))
	return nil
}
