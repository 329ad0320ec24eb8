package v1

import "testing"

func TestParamSpecEffectiveType(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec ParamSpec
		want ParamType
	}{
		{"declared", ParamSpec{Type: ParamTypeArray}, ParamTypeArray},
		{"from-default", ParamSpec{Default: &ParamValue{Type: ParamTypeArray}}, ParamTypeArray},
		{"properties-only", ParamSpec{Properties: map[string]PropertySpec{"url": {}}}, ParamTypeObject},
		{"nothing", ParamSpec{}, ParamTypeString},
		{"declared-wins", ParamSpec{Type: ParamTypeString, Default: &ParamValue{Type: ParamTypeString}}, ParamTypeString},
	} {
		if got := tc.spec.EffectiveType(); got != tc.want {
			t.Errorf("%s: EffectiveType() = %s, want %s", tc.name, got, tc.want)
		}
	}
}
