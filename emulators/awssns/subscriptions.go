package awssns

import (
	"crypto/rand"
	"encoding/hex"
	"maps"
	"net/http"
	"net/url"
	"strings"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/awsxml"
)

// protocols SNS accepts; only sqs, http and https are delivered to.
var protocols = map[string]bool{
	"http": true, "https": true, "email": true, "email-json": true, "sms": true, "sqs": true,
	"application": true, "lambda": true, "firehose": true,
}

// subscriptionAttributes are the attributes Subscribe and
// SetSubscriptionAttributes accept.
var subscriptionAttributes = map[string]bool{
	"RawMessageDelivery": true, "FilterPolicy": true, "FilterPolicyScope": true, "DeliveryPolicy": true,
	"RedrivePolicy": true, "SubscriptionRoleArn": true, "ReplayPolicy": true,
}

func checkSubscriptionAttribute(protocol, k, v string) error {
	switch {
	case !subscriptionAttributes[k]:
		return invalidParameter("AttributeName")
	case k == "RawMessageDelivery" && v != "true" && v != "false":
		return invalidParameter("Attributes Reason: RawMessageDelivery: Invalid value [%s]. Must be true or false.", v)
	case k == "RawMessageDelivery" && v == "true" && protocol != "sqs" && protocol != "http" && protocol != "https" && protocol != "firehose":
		return invalidParameter("Attributes Reason: Delivery protocol [%s] does not support raw message delivery.", protocol)
	case k == "FilterPolicy" && v != "":
		if _, err := parseFilterPolicy(v); err != nil {
			return invalidParameter("Attributes Reason: FilterPolicy: %s", err.Error())
		}
	case k == "FilterPolicyScope" && v != "MessageAttributes" && v != "MessageBody":
		return invalidParameter("Attributes Reason: FilterPolicyScope: Invalid value [%s]. Please use either MessageBody or MessageAttributes", v)
	case (k == "DeliveryPolicy" || k == "RedrivePolicy") && v != "" && !jsonObject(v):
		return invalidParameter("Attributes Reason: %s: failed to parse JSON", k)
	}
	return nil
}

// checkEndpoint validates the endpoint of a protocol.
func checkEndpoint(protocol, endpoint string) error {
	switch protocol {
	case "sqs":
		if !queueARNRe.MatchString(endpoint) {
			return invalidParameter("SQS endpoint ARN")
		}
	case "http", "https":
		u, err := url.Parse(endpoint)
		if err != nil || u.Scheme != protocol || u.Host == "" {
			return invalidParameter("Endpoint must match the specified protocol")
		}
	case "email", "email-json":
		if !strings.Contains(endpoint, "@") {
			return invalidParameter("Email address")
		}
	default:
		if endpoint == "" {
			return invalidParameter("Endpoint")
		}
	}
	return nil
}

// baseURL is scheme://host of the request, where links in messages point.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func newToken() string {
	var b [64]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// subscribe implements Subscribe.
func (h *Handler) subscribe(c *call) (any, error) {
	protocol, endpoint := strings.ToLower(c.p.Get("Protocol")), c.p.Get("Endpoint")
	if protocol == "" {
		return nil, invalidParameter("Protocol")
	}
	if !protocols[protocol] {
		return nil, invalidParameter("Amazon SNS does not support this protocol string: %s", c.p.Get("Protocol"))
	}
	if err := checkEndpoint(protocol, endpoint); err != nil {
		return nil, err
	}
	attrs, err := parseMap(c.p, "Attributes")
	if err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(attrs) {
		if err := checkSubscriptionAttribute(protocol, k, attrs[k]); err != nil {
			return nil, err
		}
	}
	t, err := h.lookupTopic(c, "TopicArn", "Subscribe", map[string][]string{"sns:Protocol": {protocol}, "sns:Endpoint": {endpoint}})
	if err != nil {
		return nil, err
	}
	sub := &subscription{ARN: t.ARN + ":" + awsxml.NewRequestID(), TopicARN: t.ARN, Owner: c.caller.Account,
		Protocol: protocol, Endpoint: endpoint, Attributes: attrs, BaseURL: baseURL(c.r)}
	switch {
	case protocol == "sqs":
		q := queueARNRe.FindStringSubmatch(endpoint)
		sub.Confirmed = q[2] == c.caller.Account || q[2] == t.Account
		sub.Authenticated = sub.Confirmed
	}
	if !sub.Confirmed {
		sub.Token = newToken()
	}
	var existing *subscription
	err = h.store.update(func(st *state) error {
		for _, s := range st.Subscriptions {
			if s.TopicARN == t.ARN && s.Protocol == protocol && s.Endpoint == endpoint {
				for k, v := range attrs {
					if s.Attributes[k] != v {
						return invalidParameter("Attributes Reason: Subscription already exists with different attributes")
					}
				}
				cp := *s
				existing = &cp
				return nil
			}
		}
		st.Subscriptions[sub.ARN] = sub
		cp := *sub
		cp.Attributes = maps.Clone(sub.Attributes)
		sub = &cp
		return nil
	})
	if err != nil {
		return nil, err
	}
	if existing != nil {
		if existing.Confirmed || c.p.Get("ReturnSubscriptionArn") == "true" {
			return c.respond(subscribeResult{SubscriptionArn: existing.ARN}), nil
		}
		return c.respond(subscribeResult{SubscriptionArn: "pending confirmation"}), nil
	}
	h.log.Info("sns subscribed", "subscription", sub.ARN, "protocol", protocol, "endpoint", endpoint,
		"confirmed", sub.Confirmed, "principal", c.caller.ARN, "request_id", c.reqID)
	if !sub.Confirmed {
		if err := h.sendConfirmation(t, sub); err != nil {
			return nil, err
		}
	}
	if sub.Confirmed || c.p.Get("ReturnSubscriptionArn") == "true" {
		return c.respond(subscribeResult{SubscriptionArn: sub.ARN}), nil
	}
	return c.respond(subscribeResult{SubscriptionArn: "pending confirmation"}), nil
}

// confirmSubscription implements ConfirmSubscription, signed or not.
func (h *Handler) confirmSubscription(c *call) (any, error) {
	token := c.p.Get("Token")
	if token == "" {
		return nil, invalidParameter("Token")
	}
	t, err := h.lookupTopic(c, "TopicArn", "ConfirmSubscription", nil)
	if err != nil {
		return nil, err
	}
	var arn string
	err = h.store.update(func(st *state) error {
		for _, s := range st.Subscriptions {
			if s.TopicARN == t.ARN && s.Token != "" && s.Token == token {
				s.Confirmed = true
				s.Authenticated = !c.anonymous || c.p.Get("AuthenticateOnUnsubscribe") == "true"
				arn = s.ARN
				return nil
			}
		}
		return invalidParameter("Invalid token")
	})
	if err != nil {
		return nil, err
	}
	h.log.Info("sns subscription confirmed", "subscription", arn, "anonymous", c.anonymous, "request_id", c.reqID)
	return c.respond(confirmSubscriptionResult{SubscriptionArn: arn}), nil
}

// lookupSubscription finds the subscription in SubscriptionArn and
// authorizes action on its topic.
func (h *Handler) lookupSubscription(c *call, action string) (*subscription, error) {
	arn := c.p.Get("SubscriptionArn")
	ta, err := parseSubscriptionARN(arn)
	if err != nil {
		return nil, err
	}
	var sub *subscription
	h.store.view(func(st *state) {
		if s, ok := st.Subscriptions[arn]; ok {
			cp := *s
			cp.Attributes = maps.Clone(s.Attributes)
			sub = &cp
		}
	})
	var policy *awsiam.Policy
	if t := h.snapshotTopic(ta.String()); t != nil {
		policy = t.Policy
	}
	owner := ta.Account
	if sub != nil && sub.Owner == c.caller.Account {
		owner = c.caller.Account // the subscriber manages its own subscription
	}
	if err := h.authorize(c, action, ta.String(), owner, policy, nil); err != nil {
		return nil, err
	}
	if sub == nil {
		return nil, notFound("Subscription does not exist")
	}
	return sub, nil
}

func (h *Handler) unsubscribe(c *call) (any, error) {
	sub, err := h.lookupSubscription(c, "Unsubscribe")
	if err != nil {
		return nil, err
	}
	err = h.store.update(func(st *state) error {
		delete(st.Subscriptions, sub.ARN)
		if t, ok := st.Topics[sub.TopicARN]; ok {
			t.Deleted++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.log.Info("sns unsubscribed", "subscription", sub.ARN, "principal", c.caller.ARN, "request_id", c.reqID)
	return c.respond(nil), nil
}

func member(s *subscription) subscriptionMember {
	arn := s.ARN
	if !s.Confirmed {
		arn = "PendingConfirmation"
	}
	return subscriptionMember{SubscriptionArn: arn, Owner: s.Owner, Protocol: s.Protocol, Endpoint: s.Endpoint, TopicArn: s.TopicARN}
}

func (h *Handler) listSubscriptions(c *call) (any, error) {
	if err := h.authorize(c, "ListSubscriptions", "*", c.caller.Account, nil, nil); err != nil {
		return nil, err
	}
	var keys []string
	all := map[string]subscriptionMember{}
	h.store.view(func(st *state) {
		for _, s := range st.sortedSubscriptions("") {
			ta, err := parseTopicARN(s.TopicARN, "TopicArn")
			if err == nil && s.Owner == c.caller.Account && ta.Region == c.region {
				keys = append(keys, s.ARN)
				all[s.ARN] = member(s)
			}
		}
	})
	page, next, err := paginate(keys, c.p.Get("NextToken"))
	if err != nil {
		return nil, err
	}
	res := listSubscriptionsResult{NextToken: next}
	for _, k := range page {
		res.Subscriptions = append(res.Subscriptions, all[k])
	}
	return c.respond(res), nil
}

func (h *Handler) listSubscriptionsByTopic(c *call) (any, error) {
	t, err := h.lookupTopic(c, "TopicArn", "ListSubscriptionsByTopic", nil)
	if err != nil {
		return nil, err
	}
	var keys []string
	all := map[string]subscriptionMember{}
	h.store.view(func(st *state) {
		for _, s := range st.sortedSubscriptions(t.ARN) {
			keys = append(keys, s.ARN)
			all[s.ARN] = member(s)
		}
	})
	page, next, err := paginate(keys, c.p.Get("NextToken"))
	if err != nil {
		return nil, err
	}
	res := listSubscriptionsByTopicResult{NextToken: next}
	for _, k := range page {
		res.Subscriptions = append(res.Subscriptions, all[k])
	}
	return c.respond(res), nil
}

func (h *Handler) getSubscriptionAttributes(c *call) (any, error) {
	sub, err := h.lookupSubscription(c, "GetSubscriptionAttributes")
	if err != nil {
		return nil, err
	}
	attrs := maps.Clone(sub.Attributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["SubscriptionArn"] = sub.ARN
	attrs["TopicArn"] = sub.TopicARN
	attrs["Owner"] = sub.Owner
	attrs["Protocol"] = sub.Protocol
	attrs["Endpoint"] = sub.Endpoint
	attrs["PendingConfirmation"] = boolString(!sub.Confirmed)
	attrs["ConfirmationWasAuthenticated"] = boolString(sub.Authenticated)
	if _, ok := attrs["RawMessageDelivery"]; !ok {
		attrs["RawMessageDelivery"] = "false"
	}
	if attrs["FilterPolicy"] != "" && attrs["FilterPolicyScope"] == "" {
		attrs["FilterPolicyScope"] = "MessageAttributes"
	}
	if sub.Protocol == "http" || sub.Protocol == "https" {
		attrs["EffectiveDeliveryPolicy"] = defaultDeliveryPolicy
	}
	return c.respond(getSubscriptionAttributesResult{Attributes: entries(attrs)}), nil
}

func (h *Handler) setSubscriptionAttributes(c *call) (any, error) {
	name, value := c.p.Get("AttributeName"), c.p.Get("AttributeValue")
	sub, err := h.lookupSubscription(c, "SetSubscriptionAttributes")
	if err != nil {
		return nil, err
	}
	if err := checkSubscriptionAttribute(sub.Protocol, name, value); err != nil {
		return nil, err
	}
	err = h.store.update(func(st *state) error {
		s, ok := st.Subscriptions[sub.ARN]
		if !ok {
			return notFound("Subscription does not exist")
		}
		if s.Attributes == nil {
			s.Attributes = map[string]string{}
		}
		if value == "" {
			delete(s.Attributes, name)
		} else {
			s.Attributes[name] = value
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c.respond(nil), nil
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
