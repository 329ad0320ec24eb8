package v1

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	sigsjson "sigs.k8s.io/json"
)

func TestWorkspaceUsageUnmarshal(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    WorkspaceUsage
		wantErr string
	}{
		{in: `{"name":"creds","mountPath":"/creds"}`, want: WorkspaceUsage{Name: "creds", MountPath: "/creds"}},
		// Tekton's examples write mountpath; encoding/json (Tekton's webhook) matches it to mountPath.
		{in: `{"name":"creds","mountpath":"/creds"}`, want: WorkspaceUsage{Name: "creds", MountPath: "/creds"}},
		{in: `{"NAME":"creds","MOUNTPATH":"/c"}`, want: WorkspaceUsage{Name: "creds", MountPath: "/c"}},
		{in: `{"name":"creds"}`, want: WorkspaceUsage{Name: "creds"}},
		{in: `{"name":"creds","mountPth":"/x","b":1}`, want: WorkspaceUsage{Name: "creds", UnknownFields: []string{"b", "mountPth"}}},
		{in: `{"name":1}`, wantErr: "workspace usage"},
		{in: `[]`, wantErr: "workspace usage"},
	} {
		var got WorkspaceUsage
		// The API machinery's case-sensitive decoder calls UnmarshalJSON too.
		err := sigsjson.UnmarshalCaseSensitivePreserveInts([]byte(tc.in), &got)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestWorkspaceUsageInStep(t *testing.T) {
	var st Step
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts([]byte(`{"name":"s","workspaces":[{"name":"a"},{"name":"b","mountpath":"/b","mountPth":"/x"}]}`), &st); err != nil {
		t.Fatal(err)
	}
	if st.Workspaces[1].MountPath != "/b" {
		t.Errorf("mountPath = %q, want /b", st.Workspaces[1].MountPath)
	}
	if got, want := UnknownWorkspaceFields("spec.steps[0]", st.Workspaces), "spec.steps[0].workspaces[1].mountPth"; got != want {
		t.Errorf("UnknownWorkspaceFields = %q, want %q", got, want)
	}
	out, err := json.Marshal(st.Workspaces)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"name":"a"},{"name":"b","mountPath":"/b"}]`; string(out) != want {
		t.Errorf("marshalled = %s, want %s (unknown keys are not written back)", out, want)
	}
}

// FuzzWorkspaceUsageUnmarshal: user YAML reaches UnmarshalJSON; it never panics, and what it accepts
// marshals back to a value that decodes to the same fields.
func FuzzWorkspaceUsageUnmarshal(f *testing.F) {
	for _, s := range []string{`{"name":"a","mountpath":"/x"}`, `{"name":"a","mountPth":1}`, `null`, `{}`, `{"Name":"a","MountPath":"b"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var w WorkspaceUsage
		if err := json.Unmarshal([]byte(in), &w); err != nil {
			return
		}
		b, err := json.Marshal(w)
		if err != nil {
			t.Fatalf("marshal %+v: %v", w, err)
		}
		var back WorkspaceUsage
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		if back.Name != w.Name || back.MountPath != w.MountPath || len(back.UnknownFields) != 0 {
			t.Fatalf("%s → %+v → %s → %+v", in, w, b, back)
		}
	})
}
