package awssns

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/awsxml"
)

// pageSize is how many topics or subscriptions one List* page holds.
const pageSize = 100

// defaultDeliveryPolicy is the EffectiveDeliveryPolicy of a topic without
// its own DeliveryPolicy.
const defaultDeliveryPolicy = `{"http":{"defaultHealthyRetryPolicy":{"minDelayTarget":20,"maxDelayTarget":20,"numRetries":3,"numMaxDelayRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,"backoffFunction":"linear"},"disableSubscriptionOverrides":false,"defaultRequestPolicy":{"headerContentType":"text/plain; charset=UTF-8"}}}`

// DefaultTopicPolicy is the access policy SNS attaches to a new topic: the
// owner account's principals may manage and publish to it. Its condition on
// AWS:SourceOwner is not met by direct API calls, so callers still need an
// identity policy, as on AWS.
func DefaultTopicPolicy(arn, owner string) string {
	return `{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{"Sid":"__default_statement_ID","Effect":"Allow",` +
		`"Principal":{"AWS":"*"},"Action":["SNS:GetTopicAttributes","SNS:SetTopicAttributes","SNS:AddPermission",` +
		`"SNS:RemovePermission","SNS:DeleteTopic","SNS:Subscribe","SNS:ListSubscriptionsByTopic","SNS:Publish"],` +
		`"Resource":"` + arn + `","Condition":{"StringEquals":{"AWS:SourceOwner":"` + owner + `"}}}]}`
}

// settableTopicAttributes are the attributes CreateTopic and
// SetTopicAttributes accept besides Policy (and the delivery-status
// feedback attributes, matched by suffix).
var settableTopicAttributes = map[string]bool{
	"DisplayName": true, "DeliveryPolicy": true, "KmsMasterKeyId": true, "SignatureVersion": true,
	"TracingConfig": true, "FifoTopic": true, "ContentBasedDeduplication": true, "ArchivePolicy": true,
	"FifoThroughputScope": true, "DataProtectionPolicy": true,
}

// checkTopicAttribute validates one attribute and returns the parsed policy
// for Policy.
func checkTopicAttribute(k, v string) (*awsiam.Policy, error) {
	switch {
	case k == "Policy":
		p, err := awsiam.ParsePolicy([]byte(v))
		if err == nil {
			err = p.ValidateFor(awsiam.ResourcePolicy)
		}
		if err != nil {
			return nil, invalidParameter("Policy Error: %s", err.Error())
		}
		return p, nil
	case k == "DisplayName" && len(v) > 100:
		return nil, invalidParameter("DisplayName Reason: must be at most 100 characters")
	case k == "SignatureVersion" && v != "1" && v != "2":
		return nil, invalidParameter("Attributes Reason: SignatureVersion: Invalid value [%s]. Should be 1 or 2", v)
	case (k == "FifoTopic" || k == "ContentBasedDeduplication") && v != "true" && v != "false":
		return nil, invalidParameter("Attributes Reason: %s: Invalid value [%s]. Should be true or false", k, v)
	case k == "DeliveryPolicy" && v != "" && !jsonObject(v):
		return nil, invalidParameter("DeliveryPolicy: failed to parse JSON")
	case settableTopicAttributes[k], strings.HasSuffix(k, "FeedbackRoleArn"), strings.HasSuffix(k, "FeedbackSampleRate"):
		return nil, nil
	}
	return nil, invalidParameter("AttributeName")
}

// createTopic implements CreateTopic.
func (h *Handler) createTopic(c *call) (any, error) {
	name := c.p.Get("Name")
	attrs, err := parseMap(c.p, "Attributes")
	if err != nil {
		return nil, err
	}
	tags, err := parseTags(c.p)
	if err != nil {
		return nil, err
	}
	fifo := attrs["FifoTopic"] == "true"
	base, isFifoName := strings.CutSuffix(name, ".fifo")
	switch {
	case fifo && (!isFifoName || !topicNameRe.MatchString(base)):
		return nil, invalidParameter("Topic Name")
	case !fifo && !topicNameRe.MatchString(name):
		return nil, invalidParameter("Topic Name")
	}
	var policy *awsiam.Policy
	for _, k := range sortedKeys(attrs) {
		p, err := checkTopicAttribute(k, attrs[k])
		if err != nil {
			return nil, err
		}
		if p != nil {
			policy = p
		}
	}
	if attrs["FifoTopic"] == "false" {
		delete(attrs, "FifoTopic")
	}
	if !fifo && attrs["ContentBasedDeduplication"] != "" {
		return nil, invalidParameter("Attributes Reason: ContentBasedDeduplication is only valid for FIFO topics")
	}
	arn := topicARN{Region: c.region, Account: c.caller.Account, Name: name}.String()
	cctx := map[string][]string{}
	for k, v := range tags {
		cctx["aws:RequestTag/"+k] = []string{v}
		cctx["aws:TagKeys"] = append(cctx["aws:TagKeys"], k)
	}
	if err := h.authorize(c, "CreateTopic", arn, c.caller.Account, nil, cctx); err != nil {
		return nil, err
	}
	delete(attrs, "Policy")
	err = h.store.update(func(st *state) error {
		if t, ok := st.Topics[arn]; ok {
			for k, v := range attrs {
				if t.Attributes[k] != v {
					return invalidParameter("Attributes Reason: Topic already exists with different attributes")
				}
			}
			if policy != nil && string(compactJSON(policy.Raw)) != string(compactJSON(t.Policy.Raw)) {
				return invalidParameter("Attributes Reason: Topic already exists with different attributes")
			}
			for k, v := range tags {
				if cur, ok := t.Tags[k]; !ok || cur != v {
					return invalidParameter("Tags Reason: Topic already exists with different tags")
				}
			}
			return nil
		}
		st.Topics[arn] = newTopic(arn, c.region, c.caller.Account, name, attrs, policy, tags, h)
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.log.Info("sns topic created", "topic", arn, "principal", c.caller.ARN, "request_id", c.reqID)
	return c.respond(createTopicResult{TopicArn: arn}), nil
}

func newTopic(arn, region, account, name string, attrs map[string]string, policy *awsiam.Policy, tags map[string]string, h *Handler) *topic {
	if policy == nil {
		policy = awsiam.MustParsePolicy(DefaultTopicPolicy(arn, account))
	}
	if attrs["FifoTopic"] == "true" && attrs["ContentBasedDeduplication"] == "" {
		attrs["ContentBasedDeduplication"] = "false"
	}
	return &topic{ARN: arn, Region: region, Account: account, Name: name, Attributes: attrs, Policy: policy, Tags: tags, Created: h.now().UTC()}
}

// CreateTopic creates (or finds) a topic for fixtures, without a caller or
// IAM check. policy replaces the default topic policy when not nil. A name
// ending in .fifo makes a FIFO topic.
func (h *Handler) CreateTopic(ctx context.Context, account, region, name string, policy *awsiam.Policy) (string, error) {
	if region == "" {
		region = h.region
	}
	base, fifo := strings.CutSuffix(name, ".fifo")
	if !accountRe.MatchString(account) || !topicNameRe.MatchString(base) {
		return "", fmt.Errorf("create topic %q in account %q: %w", name, account, invalidParameter("Topic Name"))
	}
	arn := topicARN{Region: region, Account: account, Name: name}.String()
	err := h.store.update(func(st *state) error {
		if t, ok := st.Topics[arn]; ok {
			if policy != nil {
				t.Policy = policy
			}
			return nil
		}
		attrs := map[string]string{}
		if fifo {
			attrs["FifoTopic"] = "true"
		}
		st.Topics[arn] = newTopic(arn, region, account, name, attrs, policy, map[string]string{}, h)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("create topic %s: %w", arn, err)
	}
	h.log.InfoContext(ctx, "sns topic seeded", "topic", arn)
	return arn, nil
}

// topicView is a copy of a topic taken under the store lock.
type topicView struct {
	topic
	confirmed, pending int
}

// lookupTopic parses the ARN in parameter param, authorizes action on it
// with its topic policy, then reports NotFound if it does not exist:
// callers without access learn nothing about existence.
func (h *Handler) lookupTopic(c *call, param, action string, cctx map[string][]string) (*topicView, error) {
	arn := c.p.Get(param)
	ta, err := parseTopicARN(arn, param)
	if err != nil {
		return nil, err
	}
	v := h.snapshotTopic(arn)
	var policy *awsiam.Policy
	if v != nil {
		policy = v.Policy
	}
	if !c.anonymous {
		if err := h.authorize(c, action, arn, ta.Account, policy, cctx); err != nil {
			return nil, err
		}
	}
	if v == nil {
		return nil, notFound("Topic does not exist")
	}
	return v, nil
}

func (h *Handler) snapshotTopic(arn string) *topicView {
	var v *topicView
	h.store.view(func(st *state) {
		t, ok := st.Topics[arn]
		if !ok {
			return
		}
		v = &topicView{topic: *t}
		v.Attributes = maps.Clone(t.Attributes)
		v.Tags = maps.Clone(t.Tags)
		for _, s := range st.Subscriptions {
			if s.TopicARN == arn {
				if s.Confirmed {
					v.confirmed++
				} else {
					v.pending++
				}
			}
		}
	})
	return v
}

func (h *Handler) deleteTopic(c *call) (any, error) {
	t, err := h.lookupTopic(c, "TopicArn", "DeleteTopic", nil)
	if err != nil {
		if isCode(err, "NotFound") {
			return c.respond(nil), nil // DeleteTopic is idempotent
		}
		return nil, err
	}
	err = h.store.update(func(st *state) error {
		delete(st.Topics, t.ARN)
		for arn, s := range st.Subscriptions {
			if s.TopicARN == t.ARN {
				delete(st.Subscriptions, arn)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.log.Info("sns topic deleted", "topic", t.ARN, "principal", c.caller.ARN, "request_id", c.reqID)
	return c.respond(nil), nil
}

func (h *Handler) listTopics(c *call) (any, error) {
	if err := h.authorize(c, "ListTopics", "*", c.caller.Account, nil, nil); err != nil {
		return nil, err
	}
	var arns []string
	h.store.view(func(st *state) {
		for _, t := range st.sortedTopics() {
			if t.Account == c.caller.Account && t.Region == c.region {
				arns = append(arns, t.ARN)
			}
		}
	})
	page, next, err := paginate(arns, c.p.Get("NextToken"))
	if err != nil {
		return nil, err
	}
	res := listTopicsResult{NextToken: next}
	for _, a := range page {
		res.Topics = append(res.Topics, topicMember{TopicArn: a})
	}
	return c.respond(res), nil
}

// paginate returns the page of sorted keys after token (the base64 of the
// last key of the previous page) and the token of the next page.
func paginate(keys []string, token string) ([]string, string, error) {
	start := 0
	if token != "" {
		last, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			return nil, "", invalidParameter("NextToken")
		}
		start, _ = slices.BinarySearch(keys, string(last))
		if start < len(keys) && keys[start] == string(last) {
			start++
		}
	}
	end := min(start+pageSize, len(keys))
	next := ""
	if end < len(keys) {
		next = base64.RawURLEncoding.EncodeToString([]byte(keys[end-1]))
	}
	return keys[start:end], next, nil
}

func (h *Handler) getTopicAttributes(c *call) (any, error) {
	t, err := h.lookupTopic(c, "TopicArn", "GetTopicAttributes", nil)
	if err != nil {
		return nil, err
	}
	attrs := maps.Clone(t.Attributes)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["TopicArn"] = t.ARN
	attrs["Owner"] = t.Account
	attrs["Policy"] = string(compactJSON(t.Policy.Raw))
	if _, ok := attrs["DisplayName"]; !ok {
		attrs["DisplayName"] = ""
	}
	attrs["SubscriptionsConfirmed"] = strconv.Itoa(t.confirmed)
	attrs["SubscriptionsPending"] = strconv.Itoa(t.pending)
	attrs["SubscriptionsDeleted"] = strconv.Itoa(t.Deleted)
	if dp := attrs["DeliveryPolicy"]; dp != "" {
		attrs["EffectiveDeliveryPolicy"] = dp
	} else {
		attrs["EffectiveDeliveryPolicy"] = defaultDeliveryPolicy
	}
	return c.respond(getTopicAttributesResult{Attributes: entries(attrs)}), nil
}

func (h *Handler) setTopicAttributes(c *call) (any, error) {
	name, value := c.p.Get("AttributeName"), c.p.Get("AttributeValue")
	if name == "" {
		return nil, invalidParameter("AttributeName")
	}
	t, err := h.lookupTopic(c, "TopicArn", "SetTopicAttributes", nil)
	if err != nil {
		return nil, err
	}
	if name == "FifoTopic" {
		return nil, invalidParameter("AttributeName Reason: FifoTopic cannot be changed after creation")
	}
	policy, err := checkTopicAttribute(name, value)
	if err != nil {
		return nil, err
	}
	err = h.store.update(func(st *state) error {
		cur, ok := st.Topics[t.ARN]
		if !ok {
			return notFound("Topic does not exist")
		}
		switch {
		case policy != nil:
			cur.Policy = policy
		case value == "":
			delete(cur.Attributes, name)
		default:
			if cur.Attributes == nil {
				cur.Attributes = map[string]string{}
			}
			cur.Attributes[name] = value
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.log.Info("sns topic attribute set", "topic", t.ARN, "attribute", name, "principal", c.caller.ARN, "request_id", c.reqID)
	return c.respond(nil), nil
}

func (h *Handler) listTagsForResource(c *call) (any, error) {
	t, err := h.lookupTopic(c, "ResourceArn", "ListTagsForResource", nil)
	if err != nil {
		if isCode(err, "NotFound") {
			return nil, awsxml.Errorf(404, "ResourceNotFound", "Resource does not exist")
		}
		return nil, err
	}
	res := listTagsForResourceResult{}
	for _, k := range sortedKeys(t.Tags) {
		res.Tags = append(res.Tags, tagMember{Key: k, Value: t.Tags[k]})
	}
	return c.respond(res), nil
}
