// Package awssns emulates the Amazon Simple Notification Service query API
// (Version 2010-03-31, form POST) for unmodified SDKs and awscli, so lab
// workloads can announce events and the lab can check who was allowed to.
//
// Every action but ConfirmSubscription is SigV4-signed (service "sns") and
// authenticated by awsauth against the shared awsiam store; then IAM decides
// with the caller's identity policies and the topic policy as resource
// policy, across accounts when the topic policy names the caller's account.
// Denials answer AuthorizationError with AWS's wording and are recorded in
// IAM's decision log.
//
// Actions: CreateTopic, DeleteTopic, ListTopics, GetTopicAttributes,
// SetTopicAttributes, Subscribe, ConfirmSubscription, Unsubscribe,
// ListSubscriptions, ListSubscriptionsByTopic, GetSubscriptionAttributes,
// SetSubscriptionAttributes, ListTagsForResource, Publish and PublishBatch.
//
// Deliveries:
//
//   - sqs: the endpoint is a queue ARN; the emulator keeps an in-memory (or
//     DataDir) queue per ARN that tests and the admin API read. Same-account
//     subscriptions are confirmed at once; cross-account ones receive a
//     SubscriptionConfirmation message in the queue, as on AWS.
//   - http/https: a real SubscriptionConfirmation POST carrying Token and
//     SubscribeURL (pointing back at the host the Subscribe request reached);
//     notifications are POSTed asynchronously with a few retries.
//   - email, sms and the rest: accepted, pending, never delivered.
//
// Notifications carry AWS's JSON envelope signed with a key generated at run
// time (SignatureVersion 1 = SHA1withRSA, 2 = SHA256withRSA over AWS's
// canonical string); the certificate is served at SigningCertURL,
// /SimpleNotificationService-HASH.pem on the host the subscription was
// made through, as SNS serves it. RawMessageDelivery and FilterPolicy (exact strings, numbers
// and "exists" on message attributes) are honoured.
//
// Embed it like httptest:
//
//	srv, err := awssns.NewServer(awssns.Options{IAM: iam, CA: ca})
//	if err != nil { ... }
//	defer srv.Close()
//	// AWS_ENDPOINT_URL_SNS=srv.URL(), AWS_CA_BUNDLE=<ca.PEM in a file>
//
// The admin API (AdminHandler, under /_idlab/sns/; never served by
// ServeHTTP, which workloads reach) lists topics and reads or purges the
// emulated queues.
package awssns
