package dev

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hookrun/hookrun/api/load"
	"github.com/hookrun/hookrun/api/validate"
)

func loadConfigs(paths []string) ([]load.Object, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	objs, problems, _, err := validate.Files(paths)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		var b strings.Builder
		for _, p := range problems {
			b.WriteString("\n  " + p.String())
		}
		return nil, fmt.Errorf("the manifests in %s have problems (nothing was started):%s", strings.Join(paths, ", "), b.String())
	}
	return objs, nil
}

// applyAll server-side applies every object (namespace defaulted), so a restart updates edited manifests.
func applyAll(ctx context.Context, c client.Client, objs []load.Object, ns string) error {
	for _, o := range objs {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(o.JSON); err != nil {
			return fmt.Errorf("%s: %w", o.Where(), err)
		}
		if u.GetNamespace() == "" && namespaced(u) {
			u.SetNamespace(ns)
		}
		if u.GetName() == "" {
			if err := c.Create(ctx, u); err != nil {
				return fmt.Errorf("%s: create: %w", o.Where(), err)
			}
			continue
		}
		if err := c.Patch(ctx, u, client.Apply, client.FieldOwner("hookrun-dev"), client.ForceOwnership); err != nil {
			return fmt.Errorf("%s: apply: %w", o.Where(), err)
		}
	}
	return nil
}

// applyManifest server-side applies every document of a multi-document YAML manifest.
func applyManifest(ctx context.Context, c client.Client, data []byte) error {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if len(u.Object) == 0 {
			continue
		}
		if err := c.Patch(ctx, u, client.Apply, client.FieldOwner("hookrun-dev"), client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
}

func namespaced(u *unstructured.Unstructured) bool {
	switch u.GetKind() {
	case "Namespace", "ClusterTriggerBinding", "ClusterInterceptor", "ClusterTask", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition":
		return false
	}
	return true
}
