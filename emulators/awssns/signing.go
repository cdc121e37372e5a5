package awssns

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // SignatureVersion 1 is SHA1withRSA by AWS's definition
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/idlab/idlab/internal/atomicfile"
)

// keyFile holds the signing key under DataDir, so messages persisted in
// queues still verify after a restart.
const keyFile = "sns-signing-key.pem"

// signer signs notification envelopes the way SNS does and holds the
// certificate subscribers fetch from SigningCertURL.
type signer struct {
	key     *rsa.PrivateKey
	certPEM []byte
	// certName is the file name of SigningCertURL, derived from the public
	// key so it survives restarts with a persisted key.
	certName string
}

func loadOrCreateSigner(dir string, fsync bool, now time.Time) (*signer, error) {
	var key *rsa.PrivateKey
	if dir != "" {
		b, err := os.ReadFile(filepath.Join(dir, keyFile))
		switch {
		case err == nil:
			blk, _ := pem.Decode(b)
			if blk == nil {
				return nil, fmt.Errorf("signing key %s: no PEM block", filepath.Join(dir, keyFile))
			}
			key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("signing key %s: %w", filepath.Join(dir, keyFile), err)
			}
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("read signing key: %w", err)
		}
	}
	if key == nil {
		var err error
		key, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate signing key: %w", err)
		}
		if dir != "" {
			b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
			if err := atomicfile.WriteSync(filepath.Join(dir, keyFile), b, 0o600, fsync); err != nil {
				return nil, err
			}
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "sns.amazonaws.com", Organization: []string{"idlab SNS emulator"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		DNSNames:     []string{"sns.amazonaws.com"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("self-sign signing certificate: %w", err)
	}
	sum := sha256.Sum256(x509.MarshalPKCS1PublicKey(&key.PublicKey))
	return &signer{key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		certName: "SimpleNotificationService-" + hex.EncodeToString(sum[:16]) + ".pem"}, nil
}

// envelope is the JSON document SNS delivers (Notification) or sends to
// confirm a subscription (SubscriptionConfirmation), fields in AWS's order.
type envelope struct {
	Type              string                  `json:"Type"`
	MessageID         string                  `json:"MessageId"`
	Token             string                  `json:"Token,omitempty"`
	TopicArn          string                  `json:"TopicArn"`
	Subject           *string                 `json:"Subject,omitempty"`
	Message           string                  `json:"Message"`
	SubscribeURL      string                  `json:"SubscribeURL,omitempty"`
	Timestamp         string                  `json:"Timestamp"`
	SignatureVersion  string                  `json:"SignatureVersion"`
	Signature         string                  `json:"Signature"`
	SigningCertURL    string                  `json:"SigningCertURL"`
	UnsubscribeURL    string                  `json:"UnsubscribeURL,omitempty"`
	MessageAttributes map[string]envelopeAttr `json:"MessageAttributes,omitempty"`
}

// envelopeAttr is a message attribute as the envelope spells it.
type envelopeAttr struct {
	Type  string `json:"Type"`
	Value string `json:"Value"`
}

// stringToSign is the canonical string AWS documents: for notifications
// Message, MessageId, Subject (if present), Timestamp, TopicArn, Type; for
// confirmations Message, MessageId, SubscribeURL, Timestamp, Token,
// TopicArn, Type; each name and value followed by a newline.
func (e *envelope) stringToSign() string {
	var b strings.Builder
	add := func(k, v string) { b.WriteString(k + "\n" + v + "\n") }
	add("Message", e.Message)
	add("MessageId", e.MessageID)
	if e.Type == "Notification" {
		if e.Subject != nil {
			add("Subject", *e.Subject)
		}
	} else {
		add("SubscribeURL", e.SubscribeURL)
	}
	add("Timestamp", e.Timestamp)
	if e.Type != "Notification" {
		add("Token", e.Token)
	}
	add("TopicArn", e.TopicArn)
	add("Type", e.Type)
	return b.String()
}

// sign sets SignatureVersion, Signature and SigningCertURL; version "2"
// signs with SHA256, anything else with SHA1 (version 1).
func (s *signer) sign(e *envelope, version, baseURL string) error {
	msg := []byte(e.stringToSign())
	var sig []byte
	var err error
	if version == "2" {
		sum := sha256.Sum256(msg)
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	} else {
		version = "1"
		sum := sha1.Sum(msg) //nolint:gosec // see import
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA1, sum[:])
	}
	if err != nil {
		return fmt.Errorf("sign envelope: %w", err)
	}
	e.SignatureVersion = version
	e.Signature = base64.StdEncoding.EncodeToString(sig)
	e.SigningCertURL = baseURL + "/" + s.certName
	return nil
}
