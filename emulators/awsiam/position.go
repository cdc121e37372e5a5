package awsiam

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Position is a line and column in a policy document, both from 1, the
// column counted in characters.
type Position struct {
	Line   int
	Column int
}

// Span is where one statement is in a policy document: Start at its
// opening brace, End just past its closing brace. IAM's policy simulator
// reports statements so (StartPosition, EndPosition); the convention is
// read off awscli's simulate-principal-policy example, whose statement
// starts at the brace after `"Statement": [` on line 3, column 19, and
// ends one column past its closing brace, line 9, column 10.
type Span struct {
	Start Position
	End   Position
}

// StatementSpans locates the statements of a policy document in order,
// as ParsePolicy numbers them (Statement as one object or an array of
// them; of several Statement keys, the last, as the parser keeps it).
func StatementSpans(doc []byte) ([]Span, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("policy is not a JSON object")
	}
	var spans []Span
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		if key != "Statement" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, err
			}
			continue
		}
		spans = spans[:0]
		start := nextValue(doc, int(dec.InputOffset()))
		if start < len(doc) && doc[start] == '[' {
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			for dec.More() {
				s, err := objectSpan(dec, doc)
				if err != nil {
					return nil, err
				}
				spans = append(spans, s)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			continue
		}
		s, err := objectSpan(dec, doc)
		if err != nil {
			return nil, err
		}
		spans = append(spans, s)
	}
	return spans, nil
}

// objectSpan reads the next value, which must be an object, and returns
// where it is.
func objectSpan(dec *json.Decoder, doc []byte) (Span, error) {
	start := nextValue(doc, int(dec.InputOffset()))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return Span{}, err
	}
	if len(raw) == 0 || raw[0] != '{' {
		return Span{}, errors.New("statement is not a JSON object")
	}
	return Span{Start: position(doc, start), End: position(doc, int(dec.InputOffset()))}, nil
}

// nextValue skips whitespace and the separators , and : from off.
func nextValue(doc []byte, off int) int {
	for off < len(doc) {
		switch doc[off] {
		case ' ', '\t', '\n', '\r', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

// position is the line and column of byte offset off.
func position(doc []byte, off int) Position {
	off = min(off, len(doc))
	line := 1 + bytes.Count(doc[:off], []byte{'\n'})
	lineStart := bytes.LastIndexByte(doc[:off], '\n') + 1
	return Position{Line: line, Column: utf8.RuneCount(doc[lineStart:off]) + 1}
}
