package awssns

import (
	"encoding/xml"

	"github.com/idlab/idlab/internal/awsxml"
)

// response is the envelope of every result: <ActionResponse> holding an
// optional <ActionResult> (whose type names it) and ResponseMetadata.
type response struct {
	XMLName xml.Name
	Xmlns   string `xml:"xmlns,attr"`
	Result  any
	Meta    awsxml.ResponseMetadata `xml:"ResponseMetadata"`
}

func (c *call) respond(result any) response {
	return response{XMLName: xml.Name{Local: c.action + "Response"}, Xmlns: Namespace, Result: result,
		Meta: awsxml.ResponseMetadata{RequestID: c.reqID}}
}

// entry is one key/value pair of a query-protocol map.
type entry struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

// entries renders a map in key order.
func entries(m map[string]string) []entry {
	out := make([]entry, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, entry{Key: k, Value: m[k]})
	}
	return out
}

type createTopicResult struct {
	XMLName  xml.Name `xml:"CreateTopicResult"`
	TopicArn string   `xml:"TopicArn"`
}

type topicMember struct {
	TopicArn string `xml:"TopicArn"`
}

type listTopicsResult struct {
	XMLName   xml.Name      `xml:"ListTopicsResult"`
	Topics    []topicMember `xml:"Topics>member"`
	NextToken string        `xml:"NextToken,omitempty"`
}

type getTopicAttributesResult struct {
	XMLName    xml.Name `xml:"GetTopicAttributesResult"`
	Attributes []entry  `xml:"Attributes>entry"`
}

type tagMember struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type listTagsForResourceResult struct {
	XMLName xml.Name    `xml:"ListTagsForResourceResult"`
	Tags    []tagMember `xml:"Tags>member"`
}

type subscribeResult struct {
	XMLName         xml.Name `xml:"SubscribeResult"`
	SubscriptionArn string   `xml:"SubscriptionArn"`
}

type confirmSubscriptionResult struct {
	XMLName         xml.Name `xml:"ConfirmSubscriptionResult"`
	SubscriptionArn string   `xml:"SubscriptionArn"`
}

type subscriptionMember struct {
	SubscriptionArn string `xml:"SubscriptionArn"`
	Owner           string `xml:"Owner"`
	Protocol        string `xml:"Protocol"`
	Endpoint        string `xml:"Endpoint"`
	TopicArn        string `xml:"TopicArn"`
}

type listSubscriptionsResult struct {
	XMLName       xml.Name             `xml:"ListSubscriptionsResult"`
	Subscriptions []subscriptionMember `xml:"Subscriptions>member"`
	NextToken     string               `xml:"NextToken,omitempty"`
}

type listSubscriptionsByTopicResult struct {
	XMLName       xml.Name             `xml:"ListSubscriptionsByTopicResult"`
	Subscriptions []subscriptionMember `xml:"Subscriptions>member"`
	NextToken     string               `xml:"NextToken,omitempty"`
}

type getSubscriptionAttributesResult struct {
	XMLName    xml.Name `xml:"GetSubscriptionAttributesResult"`
	Attributes []entry  `xml:"Attributes>entry"`
}

type publishResult struct {
	XMLName        xml.Name `xml:"PublishResult"`
	MessageID      string   `xml:"MessageId"`
	SequenceNumber string   `xml:"SequenceNumber,omitempty"`
}

type batchSuccess struct {
	ID             string `xml:"Id"`
	MessageID      string `xml:"MessageId"`
	SequenceNumber string `xml:"SequenceNumber,omitempty"`
}

type batchFailure struct {
	ID          string `xml:"Id"`
	Code        string `xml:"Code"`
	Message     string `xml:"Message"`
	SenderFault bool   `xml:"SenderFault"`
}

type publishBatchResult struct {
	XMLName    xml.Name       `xml:"PublishBatchResult"`
	Successful []batchSuccess `xml:"Successful>member"`
	Failed     []batchFailure `xml:"Failed>member"`
}
