package load

import (
	"strings"
	"testing"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

func TestReaderDocuments(t *testing.T) {
	in := `# leading comment
---
apiVersion: tekton.dev/v1beta1
kind: PipelineRun
metadata: {generateName: run-}
spec:
  pipelineRef: {name: p}
  timeout: 1h30m
  serviceAccountName: builder
  params:
  - {name: s, value: text}
  - {name: num, value: 3}
  - {name: arr, value: [x, 2]}
  - {name: obj, value: {k: v}}
---
---
apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {token: x}
`
	objs, problems := Reader("f.yaml", strings.NewReader(in))
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	if len(objs) != 2 || objs[0].Index != 1 || objs[1].Index != 2 {
		t.Fatalf("got %d objects (%+v)", len(objs), objs)
	}
	pr := objs[0].Obj.(*pipelinev1.PipelineRun)
	if objs[0].Name != "run-*" {
		t.Errorf("name = %q", objs[0].Name)
	}
	ps := pr.Spec.Params
	if ps[0].Value.StringVal != "text" || ps[1].Value.StringVal != "3" || len(ps[2].Value.ArrayVal) != 2 || ps[3].Value.ObjectVal["k"] != "v" {
		t.Errorf("params decoded wrong: %+v", ps)
	}
	pr.Normalize()
	if pr.Spec.Timeouts == nil || pr.Spec.Timeouts.Pipeline.Duration.String() != "1h30m0s" || pr.Spec.Timeout != nil {
		t.Errorf("timeout not normalised: %+v", pr.Spec.Timeouts)
	}
	if pr.Spec.TaskRunTemplate.ServiceAccountName != "builder" || pr.Spec.ServiceAccountName != "" {
		t.Errorf("serviceAccountName not normalised: %+v", pr.Spec)
	}
}

func FuzzDocument(f *testing.F) {
	f.Add([]byte("apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec: {steps: [{image: a}]}\n"))
	f.Add([]byte("apiVersion: triggers.tekton.dev/v1beta1\nkind: TriggerTemplate\nspec: {resourcetemplates: [{}]}\n"))
	f.Add([]byte("{\"apiVersion\":\"v1\",\"kind\":\"Secret\"}"))
	f.Add([]byte("a: [\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		obj, problems := Document("fuzz.yaml", 1, doc)
		if obj == nil && len(problems) == 0 {
			t.Fatalf("no object and no problem for %q", doc)
		}
		for _, p := range problems {
			if p.Reason == "" {
				t.Fatalf("problem without a reason: %+v", p)
			}
		}
	})
}
