package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"sigs.k8s.io/yaml"
)

// parseFile reads a YAML config file into option values keyed by flag name.
// Keys are the flags' camelCase names (leaseDuration); an unknown key is an
// error, so a typo cannot silently fall back to a default.
func parseFile(data []byte) (map[string][]string, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return map[string][]string{}, nil // an empty file
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, errors.New("must be a mapping of settings (e.g. leaseDuration: 5s)")
	}
	byKey := map[string]option{}
	for _, o := range options {
		byKey[YAMLKey(o.name)] = o
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the first bad key deterministically
	out := map[string][]string{}
	for _, k := range keys {
		o, ok := byKey[k]
		if !ok {
			return nil, fmt.Errorf("unknown field %q", k)
		}
		vals, err := scalarList(raw[k], o.list)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", k, err)
		}
		out[o.name] = vals
	}
	return out, nil
}

func scalarList(v any, list bool) ([]string, error) {
	if items, ok := v.([]any); ok {
		if !list {
			return nil, errors.New("takes one value, not a list")
		}
		out := make([]string, 0, len(items))
		for _, it := range items {
			s, err := scalar(it)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := scalar(v)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

func scalar(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	case nil:
		return "", errors.New("has no value")
	default:
		return "", errors.New("must be a single value")
	}
}
