package awssns

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/idlab/idlab/internal/awsxml"
	"github.com/idlab/idlab/internal/lazyre"
)

// maxEntries bounds the entry.N / member.N indexes a request may use, so a
// hostile request cannot make the parser allocate for huge N.
const maxEntries = 1000

// indexed collects the members of a query-protocol list or map: for prefix
// "Attributes.entry." it groups Attributes.entry.N.key and .value by N and
// returns the groups ordered by N, each as the suffixes after "N.".
func indexed(p url.Values, prefix string) []map[string]string {
	byN := map[int]map[string]string{}
	for k, v := range p {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok || len(v) == 0 {
			continue
		}
		num, field, ok := strings.Cut(rest, ".")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 || n > maxEntries || strconv.Itoa(n) != num {
			continue
		}
		if byN[n] == nil {
			byN[n] = map[string]string{}
		}
		byN[n][field] = v[0]
	}
	ns := make([]int, 0, len(byN))
	for n := range byN {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	out := make([]map[string]string, 0, len(ns))
	for _, n := range ns {
		out = append(out, byN[n])
	}
	return out
}

// parseMap reads PREFIX.entry.N.key/value into a map (Attributes).
func parseMap(p url.Values, prefix string) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range indexed(p, prefix+".entry.") {
		k, ok := e["key"]
		if !ok || k == "" {
			return nil, invalidParameter("%s Reason: an entry has no key", prefix)
		}
		out[k] = e["value"]
	}
	return out, nil
}

// parseTags reads Tags.member.N.Key/Value.
func parseTags(p url.Values) (map[string]string, error) {
	out := map[string]string{}
	for _, e := range indexed(p, "Tags.member.") {
		k := e["Key"]
		if k == "" || len(k) > 128 {
			return nil, invalidParameter("Tags Reason: tag keys must be 1 to 128 characters")
		}
		if len(e["Value"]) > 256 {
			return nil, invalidParameter("Tags Reason: tag values must be at most 256 characters")
		}
		out[k] = e["Value"]
	}
	if len(out) > 50 {
		return nil, awsxml.Errorf(400, "TagLimitExceeded", "Could not complete request: tag quota of per resource exceeded")
	}
	return out, nil
}

// MessageAttribute is one typed message attribute as Publish receives it.
type MessageAttribute struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue,omitempty"`
	BinaryValue []byte `json:"BinaryValue,omitempty"`
}

// attrNameRe is SNS's rule for message attribute names: up to 256
// characters of letters, digits, _ - . with no leading/trailing or doubled
// period and no AWS./Amazon. prefix (checked apart).
var attrNameRe = lazyre.New(`^[A-Za-z0-9_\-.]{1,256}$`)

// maxMessageAttributes is how many attributes one message may carry.
const maxMessageAttributes = 10

// parseMessageAttributes reads PREFIX.entry.N.Name / .Value.DataType /
// .Value.StringValue / .Value.BinaryValue (base64 on the wire).
func parseMessageAttributes(p url.Values, prefix string) (map[string]MessageAttribute, error) {
	entries := indexed(p, prefix+".entry.")
	if len(entries) > maxMessageAttributes {
		return nil, invalidParameter("MessageAttributes Reason: Number of message attributes [%d] exceeds the allowed maximum [%d].", len(entries), maxMessageAttributes)
	}
	out := map[string]MessageAttribute{}
	for _, e := range entries {
		name := e["Name"]
		if !attrNameRe.MatchString(name) || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") ||
			strings.Contains(name, "..") || hasReservedPrefix(name) {
			return nil, invalidParameter("MessageAttributes Reason: Invalid attribute name %q", name)
		}
		if _, dup := out[name]; dup {
			return nil, invalidParameter("MessageAttributes Reason: Message attribute name '%s' is duplicated", name)
		}
		a := MessageAttribute{DataType: e["Value.DataType"], StringValue: e["Value.StringValue"]}
		base, _, _ := strings.Cut(a.DataType, ".")
		switch {
		case a.DataType == "":
			return nil, invalidParameter("MessageAttributes Reason: The message attribute '%s' must contain non-empty message attribute type.", name)
		case base == "Binary":
			b, err := base64.StdEncoding.DecodeString(e["Value.BinaryValue"])
			if err != nil || len(b) == 0 {
				return nil, invalidParameter("MessageAttributes Reason: The message attribute '%s' with type 'Binary' must use field 'Binary'.", name)
			}
			a.BinaryValue = b
		case base == "String" || base == "Number":
			if a.StringValue == "" {
				return nil, invalidParameter("MessageAttributes Reason: The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", name, base)
			}
			if base == "Number" {
				if _, err := strconv.ParseFloat(a.StringValue, 64); err != nil {
					return nil, invalidParameter("MessageAttributes Reason: An invalid or out-of-range value '%s' was supplied for the message attribute '%s' of type 'Number'.", a.StringValue, name)
				}
			}
		default:
			return nil, invalidParameter("MessageAttributes Reason: The message attribute '%s' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.", name)
		}
		out[name] = a
	}
	return out, nil
}

func hasReservedPrefix(name string) bool {
	l := strings.ToLower(name)
	return strings.HasPrefix(l, "aws.") || strings.HasPrefix(l, "amazon.")
}

// attrSize is what an attribute adds to the 256 KiB message quota.
func attrSize(name string, a MessageAttribute) int {
	return len(name) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
}

// topicNameRe is the rule for standard topic names.
var topicNameRe = lazyre.New(`^[A-Za-z0-9_-]{1,256}$`)

// topicARN is a parsed arn:aws:sns:REGION:ACCOUNT:NAME.
type topicARN struct {
	Region, Account, Name string
}

func (t topicARN) String() string {
	return fmt.Sprintf("arn:aws:sns:%s:%s:%s", t.Region, t.Account, t.Name)
}

var (
	topicARNRe = lazyre.New(`^arn:aws:sns:([a-z0-9-]+):([0-9]{12}):([A-Za-z0-9_-]{1,256}(?:\.fifo)?)$`)
	queueARNRe = lazyre.New(`^arn:aws:sqs:([a-z0-9-]+):([0-9]{12}):([A-Za-z0-9_-]{1,80}(?:\.fifo)?)$`)
)

// parseTopicARN checks a TopicArn parameter; param names it in the error.
func parseTopicARN(s, param string) (topicARN, error) {
	m := topicARNRe.FindStringSubmatch(s)
	if m == nil {
		return topicARN{}, invalidParameter("%s", param)
	}
	return topicARN{Region: m[1], Account: m[2], Name: m[3]}, nil
}

// parseSubscriptionARN splits TOPICARN:UUID.
func parseSubscriptionARN(s string) (topicARN, error) {
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return topicARN{}, invalidParameter("SubscriptionArn")
	}
	t, err := parseTopicARN(s[:i], "SubscriptionArn")
	if err != nil || len(s)-i-1 != 36 {
		return topicARN{}, invalidParameter("SubscriptionArn")
	}
	return t, nil
}

// queueKey names an emulated queue by its owner and name.
func queueKey(account, name string) string { return account + "/" + name }
