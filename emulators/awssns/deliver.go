package awssns

import (
	"bytes"
	"context"
	"crypto/md5" //nolint:gosec // SQS's MD5OfBody is MD5 by definition
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/idlab/idlab/internal/awsxml"
)

// sendConfirmation asks the endpoint of a pending subscription to confirm:
// a SubscriptionConfirmation POST for http/https, a message in the queue
// for cross-account sqs; other protocols are never contacted.
func (h *Handler) sendConfirmation(t *topicView, sub *subscription) error {
	if sub.Protocol != "sqs" && sub.Protocol != "http" && sub.Protocol != "https" {
		return nil
	}
	now := h.now().UTC()
	env := &envelope{Type: "SubscriptionConfirmation", MessageID: awsxml.NewRequestID(), Token: sub.Token, TopicArn: t.ARN,
		Message: "You have chosen to subscribe to the topic " + t.ARN +
			".\nTo confirm the subscription, visit the SubscribeURL included in this message.",
		SubscribeURL: sub.BaseURL + "/?Action=ConfirmSubscription&TopicArn=" + url.QueryEscape(t.ARN) + "&Token=" + sub.Token,
		Timestamp:    now.Format("2006-01-02T15:04:05.000Z")}
	if err := h.signer.sign(env, t.Attributes["SignatureVersion"], sub.BaseURL); err != nil {
		return err
	}
	body, err := marshalEnvelope(env)
	if err != nil {
		return err
	}
	if sub.Protocol == "sqs" {
		return h.store.update(func(st *state) error {
			st.enqueue(queueKeyOf(sub.Endpoint), h.queueMessage(t.ARN, sub, env.MessageID, body, nil, now))
			return nil
		})
	}
	h.post(*sub, "SubscriptionConfirmation", env.MessageID, body, false)
	return nil
}

// marshalEnvelope renders the envelope as SNS does: indented, with <, >
// and & left as they are.
func marshalEnvelope(e *envelope) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(e); err != nil {
		return "", fmt.Errorf("marshal envelope: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// queueMessage wraps a delivery in SQS's message shape; message attributes
// travel as SQS attributes only with raw delivery, as on AWS.
func (h *Handler) queueMessage(topicARN string, sub *subscription, snsID, body string, attrs map[string]MessageAttribute, now time.Time) QueueMessage {
	sum := md5.Sum([]byte(body)) //nolint:gosec // see import
	m := QueueMessage{MessageID: awsxml.NewRequestID(), MD5OfBody: hex.EncodeToString(sum[:]), Body: body,
		Attributes:   map[string]string{"SentTimestamp": strconv.FormatInt(now.UnixMilli(), 10), "SenderId": "sns.amazonaws.com"},
		SNSMessageID: snsID, TopicARN: topicARN, SubscriptionARN: sub.ARN}
	if sub.raw() && len(attrs) > 0 {
		m.MessageAttributes = attrs
	}
	return m
}

// post delivers body to an http/https subscription in the background,
// retrying after each of Options.RetryDelays while the answer is not 2xx.
func (h *Handler) post(sub subscription, msgType, msgID string, body string, raw bool) {
	h.closeMu.Lock()
	if h.closed {
		h.closeMu.Unlock()
		h.log.Warn("sns delivery dropped: handler closed", "type", msgType, "message_id", msgID, "subscription", sub.ARN)
		return
	}
	h.deliveries.Add(1)
	h.closeMu.Unlock()
	go func() {
		defer h.deliveries.Done()
		for attempt := 0; ; attempt++ {
			err := h.postOnce(h.stop, sub, msgType, msgID, body, raw)
			if err == nil {
				h.log.Info("sns delivered", "type", msgType, "message_id", msgID, "subscription", sub.ARN, "endpoint", sub.Endpoint, "attempt", attempt+1)
				return
			}
			if attempt >= len(h.retries) || h.stop.Err() != nil {
				h.log.Warn("sns delivery failed", "type", msgType, "message_id", msgID, "subscription", sub.ARN, "endpoint", sub.Endpoint, "attempts", attempt+1, "err", err)
				return
			}
			h.log.Info("sns delivery retry", "type", msgType, "message_id", msgID, "endpoint", sub.Endpoint, "attempt", attempt+1, "err", err)
			select {
			case <-h.stop.Done():
				return
			case <-time.After(h.retries[attempt]):
			}
		}
	}()
}

func (h *Handler) postOnce(ctx context.Context, sub subscription, msgType, msgID, body string, raw bool) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.Endpoint, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=UTF-8")
	req.Header.Set("User-Agent", "Amazon Simple Notification Service Agent")
	req.Header.Set("x-amz-sns-message-type", msgType)
	req.Header.Set("x-amz-sns-message-id", msgID)
	req.Header.Set("x-amz-sns-topic-arn", sub.TopicARN)
	if msgType == "Notification" {
		req.Header.Set("x-amz-sns-subscription-arn", sub.ARN)
	}
	if raw {
		req.Header.Set("x-amz-sns-rawdelivery", "true")
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("post to %s: %w", sub.Endpoint, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post to %s: status %d", sub.Endpoint, resp.StatusCode)
	}
	return nil
}
