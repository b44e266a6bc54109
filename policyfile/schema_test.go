package policyfile

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestSchemaMatchesFormat: policy.schema.json (for editors) names exactly
// the fields the loader reads, at every level, and closes every object.
func TestSchemaMatchesFormat(t *testing.T) {
	data, err := os.ReadFile("policy.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	compare(t, "", root, reflect.TypeFor[schema]())
}

// compare checks that obj (a schema object) has one property per yaml
// field of typ, recursing into struct fields and lists of structs.
func compare(t *testing.T, path string, obj map[string]any, typ reflect.Type) {
	t.Helper()
	if obj["additionalProperties"] != false {
		t.Errorf("schema %s: additionalProperties is not false (unknown fields are errors)", orRoot(path))
	}
	props, _ := obj["properties"].(map[string]any)
	var fields []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		fields = append(fields, name)
		p, ok := props[name].(map[string]any)
		if !ok {
			t.Errorf("schema %s lacks %q", orRoot(path), name)
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			items, _ := p["items"].(map[string]any)
			compare(t, path+name+"[].", items, ft.Elem())
		} else if ft.Kind() == reflect.Struct {
			compare(t, path+name+".", p, ft)
		}
	}
	for name := range props {
		if !slices.Contains(fields, name) {
			t.Errorf("schema %s has %q, which the loader does not read", orRoot(path), name)
		}
	}
}

func orRoot(path string) string {
	if path == "" {
		return "top level"
	}
	return strings.TrimSuffix(path, ".")
}
