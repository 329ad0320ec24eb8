package executor

import (
	"strings"
	"testing"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

func TestSidecarContainerNames(t *testing.T) {
	for _, tc := range []struct {
		names []string // "" is an unnamed sidecar
		want  string
	}{
		{nil, ""},
		{[]string{"a"}, "sidecar-a"},
		{[]string{""}, "sidecar"},
		{[]string{"a", ""}, "sidecar-a,sidecar"},
		{[]string{"", "b", ""}, "sidecar,sidecar-b,sidecar-unnamed-2"},
		{[]string{"", ""}, "sidecar,sidecar-unnamed-1"},
	} {
		var scs []pipelinev1.Sidecar
		for _, n := range tc.names {
			scs = append(scs, pipelinev1.Sidecar{Name: n})
		}
		got := sidecarContainerNames(scs)
		if strings.Join(got, ",") != tc.want {
			t.Errorf("sidecarContainerNames(%q) = %q, want %s", tc.names, got, tc.want)
		}
		for _, c := range got {
			if !isSidecarContainer(c) {
				t.Errorf("isSidecarContainer(%q) = false", c)
			}
		}
	}
	for _, c := range []string{"step-a", "prepare", "hookrun-results", "sidecarx"} {
		if isSidecarContainer(c) {
			t.Errorf("isSidecarContainer(%q) = true", c)
		}
	}
	for c, want := range map[string]string{"sidecar": "sidecar", "sidecar-a": "a", "sidecar-unnamed-2": "unnamed-2"} {
		if got := sidecarStatusName(c); got != want {
			t.Errorf("sidecarStatusName(%q) = %q, want %q", c, got, want)
		}
	}
}
