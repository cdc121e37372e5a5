package awss3

import (
	"bytes"
	"encoding/xml"
	"strings"
)

// decodeXML unmarshals a request body strictly enough to reject what S3
// rejects as MalformedXML: not well-formed, or not the expected root.
func decodeXML(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errMalformedXML()
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(v); err != nil {
		return errMalformedXML()
	}
	// Trailing garbage after the root element is malformed too.
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return errMalformedXML()
			}
		case xml.StartElement, xml.EndElement:
			return errMalformedXML()
		}
	}
	return nil
}

// parseCreateBucketConfiguration returns the LocationConstraint of a
// CreateBucket body ("" for an empty body).
func parseCreateBucketConfiguration(data []byte) (string, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return "", nil
	}
	var c createBucketConfiguration
	if err := decodeXML(data, &c); err != nil {
		return "", err
	}
	return strings.TrimSpace(c.LocationConstraint), nil
}

// maxDeleteKeys is how many keys one DeleteObjects request may name.
const maxDeleteKeys = 1000

// parseDeleteRequest parses a DeleteObjects body.
func parseDeleteRequest(data []byte) (*deleteRequest, error) {
	var d deleteRequest
	if err := decodeXML(data, &d); err != nil {
		return nil, err
	}
	if len(d.Objects) == 0 || len(d.Objects) > maxDeleteKeys {
		return nil, errMalformedXML()
	}
	return &d, nil
}

// parseCompleteMultipartUpload parses a CompleteMultipartUpload body.
func parseCompleteMultipartUpload(data []byte) (*completeRequest, error) {
	var c completeRequest
	if err := decodeXML(data, &c); err != nil {
		return nil, err
	}
	if len(c.Parts) == 0 {
		return nil, errMalformedXML()
	}
	return &c, nil
}
