package awsiam

import (
	"reflect"
	"strings"
)

// fieldTags lists the yaml tag names of a struct (pointer) for strict decoding.
func fieldTags(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	for k := 0; k < t.NumField(); k++ {
		tag := t.Field(k).Tag.Get("yaml")
		if name, _, _ := strings.Cut(tag, ","); name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}
