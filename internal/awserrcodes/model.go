package awserrcodes

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
)

// DebianBotocoreData is where Debian's python3-botocore keeps the service
// models (data/SERVICE/API-VERSION/service-2.json).
const DebianBotocoreData = "/usr/lib/python3/dist-packages/botocore/data"

// Model is what one botocore service model says about errors.
type Model struct {
	Service    string // the model's directory name: sts, s3, eks-auth
	APIVersion string
	Protocol   string // metadata.protocol: query, rest-xml, rest-json, json, ec2
	// Errors maps the wire code of each modelled error shape (exception:
	// true) to the shape's name. The query protocols (query, ec2) put the
	// shape's error.code on the wire when the model has one ("code":
	// "IDPRejectedClaim" for IDPRejectedClaimException), the shape name
	// otherwise; the other protocols put the shape name, also when an
	// awsQueryCompatible JSON model gives an error.code (that code only goes
	// in the x-amzn-query-error header).
	Errors map[string]string
	// Documented are the codes the model's own documentation lists as the
	// service's error codes: S3's model documents its REST error code list
	// on the Code member of its Error structure ("<i>Code:</i> NoSuchKey").
	Documented []string
}

type serviceModel struct {
	Metadata struct {
		APIVersion string `json:"apiVersion"`
		Protocol   string `json:"protocol"`
	} `json:"metadata"`
	Shapes map[string]shape `json:"shapes"`
}

type shape struct {
	Type      string `json:"type"`
	Exception bool   `json:"exception"`
	Error     *struct {
		Code string `json:"code"`
	} `json:"error"`
	Members map[string]struct {
		Documentation string `json:"documentation"`
	} `json:"members"`
}

// documentedCode matches one entry of a documented error code list, and
// not the "<i>Code:</i> N/A" or "409 Conflict" lines among them.
var documentedCode = regexp.MustCompile(`<i>Code:</i>\s*([A-Za-z][A-Za-z0-9.]*)\s*</p>`)

// ParseModel reads a service-2.json document.
func ParseModel(r io.Reader) (*Model, error) {
	var sm serviceModel
	if err := json.NewDecoder(r).Decode(&sm); err != nil {
		return nil, fmt.Errorf("decode service model: %w", err)
	}
	if sm.Metadata.Protocol == "" {
		return nil, errors.New("service model: no metadata.protocol")
	}
	m := &Model{APIVersion: sm.Metadata.APIVersion, Protocol: sm.Metadata.Protocol, Errors: map[string]string{}}
	query := m.Protocol == "query" || m.Protocol == "ec2"
	for name, s := range sm.Shapes {
		if s.Exception {
			code := name
			if query && s.Error != nil && s.Error.Code != "" {
				code = s.Error.Code
			}
			m.Errors[code] = name
		}
		if s.Type != "structure" {
			continue
		}
		if member, ok := s.Members["Code"]; ok {
			for _, match := range documentedCode.FindAllStringSubmatch(member.Documentation, -1) {
				m.Documented = append(m.Documented, match[1])
			}
		}
	}
	slices.Sort(m.Documented)
	m.Documented = slices.Compact(m.Documented)
	return m, nil
}

// LoadModel reads the newest API version of service under dataDir, a
// botocore data directory: service-2.json, or service-2.json.gz as newer
// botocore releases ship it. A missing service is an error wrapping
// fs.ErrNotExist.
func LoadModel(dataDir, service string) (*Model, error) {
	versions, err := os.ReadDir(filepath.Join(dataDir, service))
	if err != nil {
		return nil, fmt.Errorf("botocore model %s: %w", service, err)
	}
	var newest string
	for _, v := range versions {
		if v.IsDir() && v.Name() > newest {
			newest = v.Name()
		}
	}
	if newest == "" {
		return nil, fmt.Errorf("botocore model %s: no API version under %s: %w", service, dataDir, fs.ErrNotExist)
	}
	dir := filepath.Join(dataDir, service, newest)
	m, err := parseModelFile(filepath.Join(dir, "service-2.json"))
	if errors.Is(err, fs.ErrNotExist) {
		m, err = parseModelFile(filepath.Join(dir, "service-2.json.gz"))
	}
	if err != nil {
		return nil, fmt.Errorf("botocore model %s: %w", service, err)
	}
	m.Service = service
	return m, nil
}

func parseModelFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if filepath.Ext(path) == ".gz" {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	m, err := ParseModel(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}
