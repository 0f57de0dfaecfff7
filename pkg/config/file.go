package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxFileSize bounds a config file. Every setting together, with a
// hundred address pools, is a few kilobytes; a file a thousand times that
// is a mistake (`--config /dev/zero` must fail at once, not exhaust
// memory).
const maxFileSize = 1 << 20

// errFileTooLarge is the error of a config file over maxFileSize.
var errFileTooLarge = fmt.Errorf("larger than %d KiB: not a vipkeeper config file", maxFileSize>>10)

// readFile reads at most maxFileSize+1 bytes of the file at path, so that
// an endless file (a device, a pipe) fails fast.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxFileSize+1))
}

// fileError is a config-file error of one field; Load names the field.
type fileError struct {
	key string // "" when the error is the file's, not a field's
	err error
}

func (e *fileError) Error() string { return e.err.Error() }

// parseFile reads a YAML config file into option values keyed by flag
// name. Keys are the flags' camelCase names (leaseDuration).
//
// It is strict, so that a file means one thing: exactly one document; a
// mapping whose keys are known settings, each given once; values that are
// scalars, or lists of scalars for the list settings. Scalars are taken as
// written (YAML 1.2 core schema, no YAML 1.1 conversions): `nodeName: no`
// is the name "no", `nodeName: 012345` is "012345", and a boolean setting
// accepts true/false (as its flag does) but not yes/no/on/off. Anchors,
// aliases and explicit tags are refused: a config file has no use for
// them.
func parseFile(data []byte) (map[string][]string, error) {
	if len(data) > maxFileSize {
		return nil, &fileError{err: errFileTooLarge}
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return map[string][]string{}, nil // no document: an empty file
	} else if err != nil {
		return nil, &fileError{err: fmt.Errorf("not valid YAML: %s", oneLine(err.Error()))}
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		line := more.Line
		if err != nil {
			return nil, &fileError{err: fmt.Errorf("not valid YAML after the first document: %s", oneLine(err.Error()))}
		}
		return nil, &fileError{err: fmt.Errorf("holds more than one YAML document (the second starts on line %d); write one mapping of settings", line)}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" && root.Style&yaml.TaggedStyle == 0 {
		return map[string][]string{}, nil // "---" alone, or only comments
	}
	if root.Kind != yaml.MappingNode || root.Anchor != "" || root.Style&yaml.TaggedStyle != 0 {
		return nil, &fileError{err: errors.New("must be a mapping of settings (e.g. leaseDuration: 5s)")}
	}
	byKey := map[string]option{}
	for _, o := range options {
		byKey[YAMLKey(o.name)] = o
	}
	out := map[string][]string{}
	lines := map[string]int{}
	var unknown []string
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Style&yaml.TaggedStyle != 0 || k.Anchor != "" {
			return nil, &fileError{err: fmt.Errorf("line %d: a key must be a plain setting name", k.Line)}
		}
		o, ok := byKey[k.Value]
		if !ok {
			hint := ""
			if near, ok := nearest(k.Value, yamlKeys()); ok {
				hint = "; did you mean " + near + "?"
			}
			unknown = append(unknown, fmt.Sprintf("%q (line %d%s)", k.Value, k.Line, hint))
			continue
		}
		if first, dup := lines[k.Value]; dup {
			return nil, &fileError{key: k.Value, err: fmt.Errorf("given twice (lines %d and %d)", first, k.Line)}
		}
		lines[k.Value] = k.Line
		vals, err := nodeValues(v, o.list)
		if err != nil {
			return nil, &fileError{key: k.Value, err: err}
		}
		out[o.name] = vals
	}
	if len(unknown) > 0 {
		sort.Strings(unknown) // report deterministically
		return nil, &fileError{err: fmt.Errorf("unknown field %s", strings.Join(unknown, ", "))}
	}
	return out, nil
}

// nodeValues returns a setting's values: one scalar, or for a list
// setting a sequence of scalars.
func nodeValues(n *yaml.Node, list bool) ([]string, error) {
	if n.Kind == yaml.SequenceNode {
		if !list {
			return nil, errors.New("takes one value, not a list")
		}
		if err := plain(n); err != nil {
			return nil, err
		}
		out := make([]string, 0, len(n.Content))
		for _, it := range n.Content {
			s, err := scalar(it)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := scalar(n)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// scalar returns a scalar node's text exactly as written (after YAML
// quoting and escapes): never converted to a boolean or a number first.
func scalar(n *yaml.Node) (string, error) {
	if err := plain(n); err != nil {
		return "", err
	}
	switch {
	case n.Kind != yaml.ScalarNode:
		return "", fmt.Errorf("line %d: must be a single value", n.Line)
	case n.ShortTag() == "!!null":
		return "", fmt.Errorf("line %d: has no value", n.Line)
	}
	return n.Value, nil
}

// plain refuses what a config file has no use for and what would make a
// value differ from its text: aliases, anchors and explicit tags.
func plain(n *yaml.Node) error {
	switch {
	case n.Kind == yaml.AliasNode:
		return fmt.Errorf("line %d: aliases (*%s) are not supported; write the value", n.Line, n.Value)
	case n.Anchor != "":
		return fmt.Errorf("line %d: anchors (&%s) are not supported", n.Line, n.Anchor)
	case n.Style&yaml.TaggedStyle != 0:
		return fmt.Errorf("line %d: explicit tags (%s) are not supported; write the value", n.Line, n.Tag)
	}
	return nil
}

// oneLine keeps an error on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
