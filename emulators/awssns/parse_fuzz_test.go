package awssns

import (
	"net/http"
	"testing"

	"github.com/idlab/idlab/internal/awsxml"
)

// FuzzParseForm runs every form parser of the package over arbitrary
// bodies: entry.N maps, tags, message attributes, whole messages and filter
// policies must return a value or an *awsxml.Error, never panic, and
// accepted message attributes must respect SNS's limits.
func FuzzParseForm(f *testing.F) {
	f.Add("Attributes.entry.1.key=a&Attributes.entry.1.value=b&Attributes.entry.2.key=&Tags.member.1.Key=k&Tags.member.1.Value=v", `{"a":["b"]}`)
	f.Add("Message=m&MessageAttributes.entry.1.Name=n&MessageAttributes.entry.1.Value.DataType=Binary&MessageAttributes.entry.1.Value.BinaryValue=AAEC", `{"n":[{"exists":true}]}`)
	f.Add("Message=%7B%22default%22%3A%22x%22%7D&MessageStructure=json&MessageAttributes.entry.2.Name=x&MessageAttributes.entry.2.Value.DataType=Number&MessageAttributes.entry.2.Value.StringValue=1e3", `{"x":[1000,{"anything-but":["a"]}]}`)
	f.Add("MessageAttributes.entry.99999999999999999999.Name=x&MessageAttributes.entry.01.Name=y&MessageGroupId=g", `{"x":[{"prefix":"a"}]}`)
	f.Fuzz(func(t *testing.T, body, filter string) {
		p, err := awsxml.ParseParams("", http.MethodPost, "", []byte(body))
		if err != nil {
			return
		}
		_, _ = parseMap(p, "Attributes")
		_, _ = parseTags(p)
		attrs, err := parseMessageAttributes(p, "MessageAttributes")
		if err == nil && len(attrs) > maxMessageAttributes {
			t.Fatalf("%d attributes accepted", len(attrs))
		}
		for _, fifo := range []bool{false, true} {
			o, err := parseMessage(p, fifo)
			if err == nil {
				if o.message == "" || o.size > maxMessageSize || (fifo && o.groupID == "") {
					t.Fatalf("accepted invalid message %+v", o)
				}
				if fp, err := parseFilterPolicy(filter); err == nil {
					_ = fp.matches(o.attrs)
					_ = fp.matches(bodyFields(o.message))
				}
			}
		}
	})
}
