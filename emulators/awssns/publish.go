package awssns

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"time"

	"github.com/idlab/idlab/internal/awsxml"
)

// maxMessageSize is SNS's quota on a message with its attributes, and on a
// whole PublishBatch.
const maxMessageSize = 256 << 10

// outgoing is one message on its way to the subscriptions.
type outgoing struct {
	subject *string
	message string
	// perProtocol holds MessageStructure=json variants (sqs, http, ...).
	perProtocol map[string]string
	attrs       map[string]MessageAttribute
	groupID     string
	dedupID     string
	size        int
}

func (o *outgoing) messageFor(protocol string) string {
	if m, ok := o.perProtocol[protocol]; ok {
		return m
	}
	return o.message
}

// parseMessage reads one message (Publish, or a PublishBatch entry) from p.
func parseMessage(p url.Values, fifo bool) (*outgoing, error) {
	o := &outgoing{message: p.Get("Message"), groupID: p.Get("MessageGroupId"), dedupID: p.Get("MessageDeduplicationId")}
	if !p.Has("Message") {
		return nil, awsxml.Errorf(400, "ValidationError", "1 validation error detected: Value null at 'message' failed to satisfy constraint: Member must not be null")
	}
	if o.message == "" {
		return nil, invalidParameter("Empty message")
	}
	if p.Has("Subject") {
		s := p.Get("Subject")
		if s == "" || len(s) >= 100 || !printableASCII(s) {
			return nil, invalidParameter("Subject")
		}
		o.subject = &s
	}
	attrs, err := parseMessageAttributes(p, "MessageAttributes")
	if err != nil {
		return nil, err
	}
	o.attrs = attrs
	o.size = len(o.message)
	for n, a := range attrs {
		o.size += attrSize(n, a)
	}
	if o.size > maxMessageSize {
		return nil, invalidParameter("Message too long")
	}
	if ms := p.Get("MessageStructure"); ms != "" {
		if ms != "json" {
			return nil, invalidParameter("MessageStructure")
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(o.message), &m); err != nil {
			return nil, invalidParameter("Message Structure - JSON message body failed to parse")
		}
		def, ok := m["default"]
		if !ok {
			return nil, invalidParameter("Message Structure - No default entry in JSON message body")
		}
		o.message, o.perProtocol = def, m
	}
	switch {
	case fifo && o.groupID == "":
		return nil, invalidParameter("The MessageGroupId parameter is required for FIFO topics")
	case !fifo && o.dedupID != "":
		return nil, invalidParameter("MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type")
	}
	return o, nil
}

func printableASCII(s string) bool {
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return false
		}
	}
	return true
}

// publish implements Publish.
func (h *Handler) publish(c *call) (any, error) {
	if c.p.Get("PhoneNumber") != "" {
		return nil, invalidParameter("PhoneNumber Reason: SMS delivery is not supported by this emulator")
	}
	param := "TopicArn"
	switch {
	case c.p.Get("TopicArn") != "" && c.p.Get("TargetArn") != "":
		return nil, invalidParameter("TopicArn or TargetArn Reason: Only one of TopicArn or TargetArn may be specified")
	case c.p.Get("TargetArn") != "":
		param = "TargetArn"
	case c.p.Get("TopicArn") == "":
		return nil, invalidParameter("TopicArn or TargetArn Reason: no value for required parameter")
	}
	if _, err := parseTopicARN(c.p.Get(param), param); err != nil {
		return nil, err
	}
	t, err := h.lookupTopic(c, param, "Publish", nil)
	if err != nil {
		return nil, err
	}
	o, err := parseMessage(c.p, t.fifo())
	if err != nil {
		return nil, err
	}
	if t.fifo() && o.dedupID == "" && t.Attributes["ContentBasedDeduplication"] != "true" {
		return nil, invalidParameter("The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
	}
	id, seq, err := h.fanOut(c, t, o)
	if err != nil {
		return nil, err
	}
	return c.respond(publishResult{MessageID: id, SequenceNumber: seq}), nil
}

// publishBatch implements PublishBatch: entries fail one by one, the batch
// as a whole only for its shape.
func (h *Handler) publishBatch(c *call) (any, error) {
	t, err := h.lookupTopic(c, "TopicArn", "Publish", nil)
	if err != nil {
		return nil, err
	}
	raw := indexed(c.p, "PublishBatchRequestEntries.member.")
	switch {
	case len(raw) == 0:
		return nil, awsxml.Errorf(400, "EmptyBatchRequest", "The batch request doesn't contain any entries")
	case len(raw) > 10:
		return nil, awsxml.Errorf(400, "TooManyEntriesInBatchRequest", "The batch request contains more entries than permissible.")
	}
	seen := map[string]bool{}
	total := 0
	for _, e := range raw {
		if seen[e["Id"]] {
			return nil, awsxml.Errorf(400, "BatchEntryIdsNotDistinct", "Two or more batch entries in the request have the same Id.")
		}
		seen[e["Id"]] = true
		total += len(e["Message"])
	}
	if total > maxMessageSize {
		return nil, awsxml.Errorf(400, "BatchRequestTooLong", "The length of all the messages put together is more than the limit.")
	}
	res := publishBatchResult{}
	for _, e := range raw {
		vals := url.Values{}
		for k, v := range e {
			vals.Set(k, v)
		}
		o, err := parseMessage(vals, t.fifo())
		if err == nil && t.fifo() && o.dedupID == "" && t.Attributes["ContentBasedDeduplication"] != "true" {
			err = invalidParameter("The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
		}
		var id, seq string
		if err == nil {
			id, seq, err = h.fanOut(c, t, o)
		}
		if err != nil {
			code, msg := "InternalError", err.Error()
			if we, ok := err.(*awsxml.Error); ok {
				code, msg = we.Code, we.Message
			}
			res.Failed = append(res.Failed, batchFailure{ID: e["Id"], Code: code, Message: msg, SenderFault: code != "InternalError"})
			continue
		}
		res.Successful = append(res.Successful, batchSuccess{ID: e["Id"], MessageID: id, SequenceNumber: seq})
	}
	return c.respond(res), nil
}

// fanOut delivers o to the confirmed subscriptions of t whose filter
// policy passes: into emulated queues at once, to HTTP endpoints in the
// background. It returns the message ID and, for FIFO topics, the
// sequence number.
func (h *Handler) fanOut(c *call, t *topicView, o *outgoing) (string, string, error) {
	id := awsxml.NewRequestID()
	now := h.now().UTC()
	var subs []subscription
	var seq string
	err := h.store.update(func(st *state) error {
		cur, ok := st.Topics[t.ARN]
		if !ok {
			return notFound("Topic does not exist")
		}
		if cur.fifo() {
			cur.Sequence++
			seq = fmt.Sprintf("%020d", cur.Sequence)
		}
		for _, s := range st.sortedSubscriptions(t.ARN) {
			if s.Confirmed {
				cp := *s
				cp.Attributes = maps.Clone(s.Attributes)
				subs = append(subs, cp)
			}
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	var pending []queued
	for i := range subs {
		s := &subs[i]
		if !s.wants(o) {
			continue
		}
		body, err := h.notificationBody(t, s, o, id, now)
		if err != nil {
			return "", "", err
		}
		switch s.Protocol {
		case "sqs":
			pending = append(pending, queued{sub: s, body: body})
		case "http", "https":
			h.post(*s, "Notification", id, body, s.raw())
		}
	}
	if len(pending) > 0 {
		err := h.store.update(func(st *state) error {
			for _, q := range pending {
				st.enqueue(q.key(), h.queueMessage(t.ARN, q.sub, id, q.body, o.attrs, now))
			}
			return nil
		})
		if err != nil {
			return "", "", err
		}
	}
	h.log.Info("sns published", "topic", t.ARN, "message_id", id, "deliveries", len(subs), "principal", c.caller.ARN, "request_id", c.reqID)
	return id, seq, nil
}

// queued is a message for an emulated queue, enqueued after signing.
type queued struct {
	sub  *subscription
	body string
}

func (q queued) key() string { return queueKeyOf(q.sub.Endpoint) }

// queueKeyOf is the queue an sqs endpoint ARN names.
func queueKeyOf(arn string) string {
	m := queueARNRe.FindStringSubmatch(arn)
	if m == nil {
		return arn
	}
	return queueKey(m[2], m[3])
}

// wants applies the subscription's filter policy.
func (s *subscription) wants(o *outgoing) bool {
	fp := s.Attributes["FilterPolicy"]
	if fp == "" {
		return true
	}
	f, err := parseFilterPolicy(fp)
	if err != nil {
		return false
	}
	if s.Attributes["FilterPolicyScope"] == "MessageBody" {
		return f.matches(bodyFields(o.messageFor(s.Protocol)))
	}
	return f.matches(o.attrs)
}

// notificationBody is what the subscription receives: the bare message
// with raw delivery, else the signed JSON envelope.
func (h *Handler) notificationBody(t *topicView, s *subscription, o *outgoing, id string, now time.Time) (string, error) {
	msg := o.messageFor(s.Protocol)
	if s.raw() {
		return msg, nil
	}
	env := &envelope{Type: "Notification", MessageID: id, TopicArn: t.ARN, Subject: o.subject, Message: msg,
		Timestamp:      now.Format("2006-01-02T15:04:05.000Z"),
		UnsubscribeURL: s.BaseURL + "/?Action=Unsubscribe&SubscriptionArn=" + url.QueryEscape(s.ARN)}
	if len(o.attrs) > 0 {
		env.MessageAttributes = map[string]envelopeAttr{}
		for n, a := range o.attrs {
			v := a.StringValue
			if strings.HasPrefix(a.DataType, "Binary") {
				v = base64Std(a.BinaryValue)
			}
			env.MessageAttributes[n] = envelopeAttr{Type: a.DataType, Value: v}
		}
	}
	if err := h.signer.sign(env, t.Attributes["SignatureVersion"], s.BaseURL); err != nil {
		return "", err
	}
	return marshalEnvelope(env)
}
