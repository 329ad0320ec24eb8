package executor

import (
	"strings"
	"testing"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/subst"
)

func arrayParam(name string, values ...string) pipelinev1.Param {
	return pipelinev1.Param{Name: name, Value: pipelinev1.ParamValue{Type: pipelinev1.ParamTypeArray, ArrayVal: values}}
}

func stringParam(name, value string) pipelinev1.Param {
	return pipelinev1.Param{Name: name, Value: *pipelinev1.NewStringValue(value)}
}

// comboText renders combinations as "name:k=v,k=v" lines, in order.
func comboText(combos []matrixCombo) string {
	var lines []string
	for _, c := range combos {
		var kv []string
		for _, p := range c.params {
			kv = append(kv, p.Name+"="+p.Value.StringVal)
		}
		lines = append(lines, c.name+":"+strings.Join(kv, ","))
	}
	return strings.Join(lines, " | ")
}

func TestMatrixCombos(t *testing.T) {
	vars := subst.Vars{}
	vars.Set("params.browsers", subst.Arr([]string{"chrome", "safari"}))
	vars.SetString("params.url", "https://example.test")
	for _, tc := range []struct {
		name   string
		matrix pipelinev1.Matrix
		want   string
	}{
		{"cross product, first param fastest", pipelinev1.Matrix{Params: pipelinev1.Params{
			arrayParam("platform", "linux", "mac"), arrayParam("browser", "safari", "chrome"),
		}}, ":browser=safari,platform=linux | :browser=safari,platform=mac | :browser=chrome,platform=linux | :browser=chrome,platform=mac"},
		{"include extends agreeing combinations and adds the rest", pipelinev1.Matrix{
			Params: pipelinev1.Params{arrayParam("platform", "linux", "mac"), arrayParam("browser", "safari", "chrome")},
			Include: []pipelinev1.IncludeParams{
				{Name: "linux-url", Params: pipelinev1.Params{stringParam("platform", "linux"), stringParam("url", "$(params.url)")}},
				{Name: "odd", Params: pipelinev1.Params{stringParam("browser", "i-do-not-exist")}},
			},
		}, "linux-url:browser=safari,platform=linux,url=https://example.test | :browser=safari,platform=mac | " +
			"linux-url:browser=chrome,platform=linux,url=https://example.test | :browser=chrome,platform=mac | odd:browser=i-do-not-exist"},
		{"include only", pipelinev1.Matrix{Include: []pipelinev1.IncludeParams{
			{Name: "b1", Params: pipelinev1.Params{stringParam("IMAGE", "i1"), stringParam("DOCKERFILE", "d1")}},
			{Name: "b2", Params: pipelinev1.Params{stringParam("IMAGE", "i2"), stringParam("DOCKERFILE", "d2")}},
		}}, "b1:DOCKERFILE=d1,IMAGE=i1 | b2:DOCKERFILE=d2,IMAGE=i2"},
		{"whole array reference", pipelinev1.Matrix{Params: pipelinev1.Params{stringParam("browser", "$(params.browsers[*])")}},
			":browser=chrome | :browser=safari"},
		{"an include entry sharing a value with an added entry is not added twice", pipelinev1.Matrix{
			Params: pipelinev1.Params{arrayParam("os", "linux")},
			Include: []pipelinev1.IncludeParams{
				{Params: pipelinev1.Params{stringParam("arch", "arm")}},
				{Params: pipelinev1.Params{stringParam("os", "linux"), stringParam("arch", "arm")}},
			},
		}, ":arch=arm,os=linux"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pt := &pipelinev1.PipelineTask{Name: "t", Matrix: &tc.matrix}
			combos, ve := matrixCombos("spec.tasks[0]", pt, vars, DefaultMaxMatrixCombinations)
			if ve != nil {
				t.Fatal(ve)
			}
			if got := comboText(combos); got != tc.want {
				t.Errorf("combinations:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestMatrixProblems(t *testing.T) {
	many := make([]string, 17)
	for i := range many {
		many[i] = string(rune('a' + i))
	}
	for _, tc := range []struct {
		name        string
		params      pipelinev1.Params
		plain       pipelinev1.Params
		reason, msg string
	}{
		{"over the limit", pipelinev1.Params{arrayParam("a", many...), arrayParam("b", many...)}, nil,
			ReasonPipelineValidationFailed, "spec.tasks[0].matrix: pipeline task \"t\" fans out to 289 combinations, more than the maximum of 256"},
		{"string value", pipelinev1.Params{stringParam("a", "linux")}, nil,
			ReasonInvalidMatrixParameterTypes, "spec.tasks[0].matrix.params[0]: matrix param \"a\" must be an array"},
		{"given twice", pipelinev1.Params{arrayParam("a", "x"), arrayParam("a", "y")}, nil,
			ReasonPipelineValidationFailed, "spec.tasks[0].matrix.params[1]: matrix param \"a\" is given twice"},
		{"in params and matrix", pipelinev1.Params{arrayParam("a", "x")}, pipelinev1.Params{stringParam("a", "z")},
			ReasonPipelineValidationFailed, "given in both params and matrix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pt := &pipelinev1.PipelineTask{Name: "t", Params: tc.plain, Matrix: &pipelinev1.Matrix{Params: tc.params}}
			err := validateMatrix("spec.tasks[0]", pt, DefaultMaxMatrixCombinations)
			ve, ok := err.(*validationError)
			if !ok || ve.reason != tc.reason || !strings.Contains(ve.msg, tc.msg) {
				t.Fatalf("validateMatrix = %v (%T), want %s: %s", err, err, tc.reason, tc.msg)
			}
		})
	}
}

func TestWhenAllowsCEL(t *testing.T) {
	for _, tc := range []struct {
		cel     string
		want    bool
		wantErr string
	}{
		{cel: "'main' == 'main'", want: true},
		{cel: "'dev' == 'main'", want: false},
		{cel: "'v1.2.3'.startsWith('v') && 3 > 2", want: true},
		{cel: "'main' in ['main', 'release']", want: true},
		{cel: "'main'", wantErr: "not bool"},
		{cel: "1 + ", wantErr: "does not compile"},
	} {
		got, err := whenAllows(pipelinev1.WhenExpressions{{CEL: tc.cel}})
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: err = %v, want %q", tc.cel, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || got != tc.want):
			t.Errorf("%s = %v, %v; want %v", tc.cel, got, err, tc.want)
		}
	}
	// cel and input/operator/values expressions all have to hold.
	got, err := whenAllows(pipelinev1.WhenExpressions{{CEL: "true"}, {Input: "a", Operator: "in", Values: []string{"b"}}})
	if err != nil || got {
		t.Errorf("mixed = %v, %v; want false", got, err)
	}
}

func TestSubstitutePodTemplate(t *testing.T) {
	in := &pipelinev1.PodTemplate{NodeSelector: map[string]string{"node-type": "$(params.node-type)", "zone": "$(params.other)"}}
	out, err := substitutePodTemplate(in, pipelinev1.Params{stringParam("node-type", "worker-1")})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.NodeSelector["node-type"] + "," + out.NodeSelector["zone"]; got != "worker-1,$(params.other)" {
		t.Errorf("nodeSelector = %s", got)
	}
	if in.NodeSelector["node-type"] != "$(params.node-type)" {
		t.Errorf("the PipelineRun's pod template was changed: %v", in.NodeSelector)
	}
}
