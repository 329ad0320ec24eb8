package templates

import "fmt"

// finishResource checks a rendered resource and applies opts to its metadata:
// the default namespace, the labels and annotations, and the deterministic name.
func finishResource(obj map[string]any, index int, opts Options) error {
	if obj == nil {
		return fmt.Errorf("%w: not a JSON object", ErrInvalidResource)
	}
	if s, _ := obj["apiVersion"].(string); s == "" {
		return fmt.Errorf("%w: apiVersion is required", ErrInvalidResource)
	}
	if s, _ := obj["kind"].(string); s == "" {
		return fmt.Errorf("%w: kind is required", ErrInvalidResource)
	}
	md, err := objectField(obj, "metadata")
	if err != nil {
		return err
	}
	if ns, _ := md["namespace"].(string); ns == "" && opts.Namespace != "" {
		md["namespace"] = opts.Namespace
	}
	if len(opts.Labels) > 0 {
		labels, err := objectField(md, "labels")
		if err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		for k, v := range opts.Labels {
			labels[k] = v
		}
	}
	if len(opts.Annotations) > 0 {
		annotations, err := objectField(md, "annotations")
		if err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		for k, v := range opts.Annotations {
			annotations[k] = v
		}
	}
	if opts.NameSeed != "" {
		name, _ := md["name"].(string)
		gen, _ := md["generateName"].(string)
		if name == "" && gen != "" {
			md["name"] = DeterministicName(gen, opts.NameSeed, index)
			delete(md, "generateName")
		}
	}
	return nil
}

// objectField returns obj[key] as an object, creating it when absent or
// null.
func objectField(obj map[string]any, key string) (map[string]any, error) {
	switch v := obj[key].(type) {
	case map[string]any:
		return v, nil
	case nil:
		m := map[string]any{}
		obj[key] = m
		return m, nil
	default:
		return nil, fmt.Errorf("%w: %s is a %T, not an object", ErrInvalidResource, key, v)
	}
}
