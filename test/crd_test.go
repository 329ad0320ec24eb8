package test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/test/controlplane"
	"github.com/hookrun/hookrun/test/seeds"
)

var env *controlplane.Env

func TestMain(m *testing.M) { controlplane.Main(m, &env) }

func TestCRDsInstalled(t *testing.T) {
	s := env.Scheme
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	var list apiextensionsv1.CustomResourceDefinitionList
	if err := c.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, crd := range list.Items {
		if crd.Spec.Group != "tekton.dev" && crd.Spec.Group != "triggers.tekton.dev" {
			continue
		}
		kinds[crd.Spec.Names.Kind] = true
		if crd.Spec.Group == "tekton.dev" && crd.Spec.Names.Kind != "PipelineResource" {
			var served []string
			for _, v := range crd.Spec.Versions {
				if v.Served {
					served = append(served, v.Name)
				}
				if v.Name == "v1" && !v.Storage {
					t.Errorf("%s: v1 must be the storage version", crd.Name)
				}
			}
			want := "v1,v1beta1"
			switch crd.Spec.Names.Kind {
			case "StepAction": // Tekton serves it as v1beta1 and v1alpha1
				want = "v1,v1beta1,v1alpha1"
			case "ClusterTask", "CustomRun": // v1beta1 only, as in Tekton
				want = "v1beta1"
			case "Run": // the pre-CustomRun kind, v1alpha1 only, as in Tekton
				want = "v1alpha1"
			}
			if got := strings.Join(served, ","); got != want {
				t.Errorf("%s serves %s, want %s", crd.Name, got, want)
			}
		}
	}
	want := []string{"Task", "Pipeline", "PipelineRun", "TaskRun", "StepAction", "PipelineResource", "EventListener", "Trigger",
		"TriggerBinding", "ClusterTriggerBinding", "TriggerTemplate", "ClusterInterceptor", "Interceptor", "CustomRun", "Run"}
	for _, k := range want {
		if !kinds[k] {
			t.Errorf("CRD for %s not installed", k)
		}
	}
	if len(kinds) < 10 {
		t.Errorf("only %d hookrun kinds installed", len(kinds))
	}
}

// TestSeedsRoundTrip creates every complete manifest of ../shared/seeds in the real apiserver, as written,
// then reads each back through every served version and checks that no field was lost.
func TestSeedsRoundTrip(t *testing.T) {
	dir := seeds.Dir(env.Root)
	if dir == "" {
		t.Skipf("seeds not found at %s/../shared/seeds (a clone without ../shared): nothing to round-trip", env.Root)
	}
	docs, err := seeds.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tekton := 0
	for _, d := range docs {
		if d.Elided {
			t.Logf("%s:%d: excerpt with elided parts, not a complete manifest: skipped", d.File, d.Line)
			continue
		}
		t.Run(fmt.Sprintf("%s:%d/%s", d.File, d.Line, d.Kind), func(t *testing.T) {
			ns := env.Namespace(t)
			var in map[string]any
			if err := yaml.Unmarshal(d.YAML, &in); err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{Object: in}
			u.SetNamespace(ns)
			if err := env.Client.Create(ctx, u, client.FieldValidation("Strict")); err != nil {
				t.Fatalf("create %s: %v", u.GetKind(), err)
			}
			gv, _ := schema.ParseGroupVersion(u.GetAPIVersion())
			if gv.Group != "tekton.dev" {
				return
			}
			tekton++
			versions := []string{gv.Version}
			if gv.Version != "v1alpha1" {
				versions = []string{"v1", "v1beta1"}
			}
			for _, v := range versions {
				got := &unstructured.Unstructured{}
				got.SetGroupVersionKind(gv.WithKind(u.GetKind()).GroupKind().WithVersion(v))
				if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: u.GetName()}, got); err != nil {
					t.Fatalf("get through %s: %v", v, err)
				}
				if !sameJSON(in["spec"], got.Object["spec"]) {
					a, _ := json.Marshal(in["spec"])
					b, _ := json.Marshal(got.Object["spec"])
					t.Errorf("spec changed reading through %s:\n wrote %s\n read  %s", v, a, b)
				}
			}
			if u.GetKind() == "PipelineRun" {
				// The typed v1 client reads it too, and the normaliser gives the v1 shape.
				var pr pipelinev1.PipelineRun
				if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: u.GetName()}, &pr); err != nil {
					t.Fatalf("typed get: %v", err)
				}
				sa := pr.Spec.ServiceAccountName
				pr.Normalize()
				if sa != "" && pr.Spec.TaskRunTemplate.ServiceAccountName != sa {
					t.Errorf("normalised serviceAccountName = %q, want %q", pr.Spec.TaskRunTemplate.ServiceAccountName, sa)
				}
			}
		})
	}
}

func sameJSON(a, b any) bool {
	norm := func(v any) any {
		data, _ := json.Marshal(v)
		var out any
		_ = json.Unmarshal(data, &out)
		return out
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func TestUnknownFieldRejected(t *testing.T) {
	ns := env.Namespace(t)
	for _, version := range []string{"v1", "v1beta1"} {
		doc := fmt.Sprintf(`
apiVersion: tekton.dev/%s
kind: Task
metadata: {name: bad-%s}
spec:
  steps:
  - name: s
    image: busybox
    bogusField: 1
`, version, version)
		var in map[string]any
		if err := yaml.Unmarshal([]byte(doc), &in); err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: in}
		u.SetNamespace(ns)
		err := env.Client.Create(context.Background(), u, client.FieldValidation("Strict"))
		if err == nil {
			t.Fatalf("%s: Task with an unknown field was accepted", version)
		}
		if !strings.Contains(err.Error(), "spec.steps[0].bogusField") {
			t.Errorf("%s: error does not name the field: %v", version, err)
		}
	}
}
