package trustboundary

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// Send sends r, anonymously, to https://host through client, which must
// reach the lab's cloud listener whatever host a request names
// (cloud.Cloud.Client): a cloud host name as a pod resolves it through
// cluster DNS, or an IP address as a workload that dialled the emulator's
// address, whose TLS then names no server (the listener's certificate is
// for 127.0.0.1). It returns the answer and its body.
func Send(ctx context.Context, client *http.Client, host string, r Request) (Answer, string, error) {
	if net.ParseIP(host) != nil {
		tr, ok := client.Transport.(*http.Transport)
		if !ok {
			return Answer{}, "", fmt.Errorf("send to %s: the client's transport is %T, not *http.Transport", host, client.Transport)
		}
		tr = tr.Clone()
		tr.TLSClientConfig.ServerName = "127.0.0.1"
		client = &http.Client{Transport: tr, Timeout: client.Timeout}
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, "https://"+host+r.Path, strings.NewReader(r.Body))
	if err != nil {
		return Answer{}, "", fmt.Errorf("send %s: %w", r.ID, err)
	}
	if r.Body != "" {
		req.Header.Set("Content-Type", FormContentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Answer{}, "", fmt.Errorf("send %s to %s: %w", r.ID, host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Answer{}, "", fmt.Errorf("send %s to %s: %w", r.ID, host, err)
	}
	return Answer{Status: resp.StatusCode, Code: ErrorCode(resp.Header, body)}, string(body), nil
}
