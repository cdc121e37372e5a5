package trustboundary

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strconv"
)

// ErrorCode reads the cloud's error code from an HTTP answer: Azure
// Storage's x-ms-error-code header; the <Code> of an AWS or Cloud Storage
// XML error; Entra's first AADSTS code (error_codes), else its OAuth
// "error"; the first reason of a Google JSON error, else its status; a
// JSON "error" string. It returns "" when the answer carries none (a plain
// 404 page, a success).
func ErrorCode(h http.Header, body []byte) string {
	if c := h.Get("x-ms-error-code"); c != "" {
		return c
	}
	body = bytes.TrimSpace(body)
	switch {
	case bytes.HasPrefix(body, []byte("<")):
		return xmlCode(body)
	case bytes.HasPrefix(body, []byte("{")):
		return jsonCode(body)
	}
	return ""
}

// xmlCode is the text of the first Code element (ErrorResponse/Error/Code
// of the query APIs, Error/Code of S3 and Cloud Storage).
func xmlCode(body []byte) string {
	dec := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "Code" {
			var code string
			if dec.DecodeElement(&code, &se) != nil {
				return ""
			}
			return code
		}
	}
}

// jsonCode reads Entra's and Google's JSON errors and {"error": CODE}.
func jsonCode(body []byte) string {
	var doc struct {
		Error      json.RawMessage `json:"error"`
		ErrorCodes []int64         `json:"error_codes"`
	}
	if json.Unmarshal(body, &doc) != nil || len(doc.Error) == 0 {
		return ""
	}
	if len(doc.ErrorCodes) > 0 {
		return "AADSTS" + strconv.FormatInt(doc.ErrorCodes[0], 10)
	}
	var s string
	if json.Unmarshal(doc.Error, &s) == nil {
		return s
	}
	var g struct {
		Status string `json:"status"`
		Errors []struct {
			Reason string `json:"reason"`
		} `json:"errors"`
	}
	if json.Unmarshal(doc.Error, &g) != nil {
		return ""
	}
	if len(g.Errors) > 0 && g.Errors[0].Reason != "" {
		return g.Errors[0].Reason
	}
	return g.Status
}
