package manifest

import (
	"bytes"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// render writes head, then each object as a YAML document. Fields an
// object to be created has no business setting (status, null
// creationTimestamp) are left out.
func render(head string, objs ...any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(head)
	for i, obj := range objs {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return nil, fmt.Errorf("convert %T: %w", obj, err)
		}
		delete(m, "status")
		if spec, ok := m["spec"].(map[string]any); ok && len(spec) == 0 {
			delete(m, "spec") // a Namespace's
		}
		prune(m)
		y, err := yaml.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("marshal %T: %w", obj, err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return b.Bytes(), nil
}

// prune removes null creationTimestamps and the empty maps they leave.
func prune(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k == "creationTimestamp" && e == nil {
				delete(x, k)
				continue
			}
			prune(e)
		}
	case []any:
		for _, e := range x {
			prune(e)
		}
	}
}
