package awssns

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/idlab/idlab/emulators/awsiam"
	"github.com/idlab/idlab/internal/atomicfile"
)

// stateFile is the JSON document under DataDir holding the whole state.
const stateFile = "sns.json"

// maxQueueMessages bounds an emulated queue; the oldest messages go first.
const maxQueueMessages = 10000

// topic is one SNS topic.
type topic struct {
	ARN     string `json:"arn"`
	Region  string `json:"region"`
	Account string `json:"account"`
	Name    string `json:"name"`
	// Attributes are those set by CreateTopic or SetTopicAttributes
	// (DisplayName, FifoTopic, DeliveryPolicy...), Policy apart.
	Attributes map[string]string `json:"attributes,omitempty"`
	Policy     *awsiam.Policy    `json:"policy"`
	Tags       map[string]string `json:"tags,omitempty"`
	// Deleted counts the subscriptions removed from the topic.
	Deleted int       `json:"deleted,omitempty"`
	Created time.Time `json:"created"`
	// Sequence numbers FIFO messages.
	Sequence int64 `json:"sequence,omitempty"`
}

func (t *topic) fifo() bool { return t.Attributes["FifoTopic"] == "true" }

// subscription is one subscription of a topic.
type subscription struct {
	ARN      string `json:"arn"`
	TopicARN string `json:"topicArn"`
	Owner    string `json:"owner"`
	Protocol string `json:"protocol"`
	Endpoint string `json:"endpoint"`
	// Confirmed is false until ConfirmSubscription (http/https, cross-account
	// sqs) and for ever for protocols the emulator does not deliver to.
	Confirmed bool `json:"confirmed"`
	// Authenticated records whether the confirmation was a signed request.
	Authenticated bool              `json:"authenticated,omitempty"`
	Token         string            `json:"token,omitempty"`
	Attributes    map[string]string `json:"attributes,omitempty"`
	// BaseURL is scheme://host of the Subscribe request: confirmation and
	// unsubscribe links and the signing certificate point there.
	BaseURL string `json:"baseUrl"`
}

func (s *subscription) raw() bool { return s.Attributes["RawMessageDelivery"] == "true" }

// QueueMessage is a message an emulated SQS queue received from a
// subscription, in SQS's ReceiveMessage shape.
type QueueMessage struct {
	MessageID string `json:"MessageId"`
	MD5OfBody string `json:"MD5OfBody"`
	// Body is the SNS JSON envelope, or the bare message with raw delivery.
	Body string `json:"Body"`
	// Attributes are SQS system attributes (SentTimestamp, SenderId).
	Attributes map[string]string `json:"Attributes"`
	// MessageAttributes carry the SNS message attributes under raw delivery.
	MessageAttributes map[string]MessageAttribute `json:"MessageAttributes,omitempty"`
	// SNS-side identifiers, for tests.
	SNSMessageID    string `json:"SnsMessageId"`
	TopicARN        string `json:"TopicArn"`
	SubscriptionARN string `json:"SubscriptionArn,omitempty"`
}

// state is everything the emulator persists.
type state struct {
	Topics        map[string]*topic         `json:"topics"`
	Subscriptions map[string]*subscription  `json:"subscriptions"`
	Queues        map[string][]QueueMessage `json:"queues"`
}

// store guards the state and writes it to DataDir after every change.
type store struct {
	dir  string
	sync bool
	mu   sync.Mutex
	st   state
}

func openStore(dir string, fsync bool) (*store, error) {
	s := &store{dir: dir, sync: fsync, st: state{Topics: map[string]*topic{}, Subscriptions: map[string]*subscription{}, Queues: map[string][]QueueMessage{}}}
	if dir == "" {
		return s, nil
	}
	if err := atomicfile.RemoveTemp(dir); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	if err := json.Unmarshal(b, &s.st); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, stateFile), err)
	}
	if s.st.Topics == nil {
		s.st.Topics = map[string]*topic{}
	}
	if s.st.Subscriptions == nil {
		s.st.Subscriptions = map[string]*subscription{}
	}
	if s.st.Queues == nil {
		s.st.Queues = map[string][]QueueMessage{}
	}
	return s, nil
}

// update runs fn under the lock and persists the state if fn succeeded.
func (s *store) update(fn func(st *state) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := fn(&s.st); err != nil {
		return err
	}
	return s.saveLocked()
}

// view runs fn under the lock without persisting.
func (s *store) view(fn func(st *state)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.st)
}

func (s *store) saveLocked() error {
	if s.dir == "" {
		return nil
	}
	b, err := json.Marshal(&s.st)
	if err != nil {
		return fmt.Errorf("marshal state: %w", err)
	}
	return atomicfile.WriteSync(filepath.Join(s.dir, stateFile), b, 0o600, s.sync)
}

// sortedTopics lists topics ordered by ARN.
func (st *state) sortedTopics() []*topic {
	out := make([]*topic, 0, len(st.Topics))
	for _, t := range st.Topics {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ARN < out[j].ARN })
	return out
}

// sortedSubscriptions lists subscriptions (of one topic when topicARN is
// set) ordered by topic then ARN.
func (st *state) sortedSubscriptions(topicARN string) []*subscription {
	var out []*subscription
	for _, s := range st.Subscriptions {
		if topicARN == "" || s.TopicARN == topicARN {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ARN < out[j].ARN })
	return out
}

// enqueue appends m to a queue, dropping the oldest beyond the bound.
func (st *state) enqueue(key string, m QueueMessage) {
	q := append(st.Queues[key], m)
	if len(q) > maxQueueMessages {
		q = q[len(q)-maxQueueMessages:]
	}
	st.Queues[key] = q
}
