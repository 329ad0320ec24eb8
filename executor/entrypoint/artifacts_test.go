package entrypoint

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A step writes $(step.artifacts.path) and $(artifacts.path): its message carries both (compact JSON);
// a later step's listed $(steps.S.outputs.N) and $(steps.S.inputs) become the JSON values before it runs,
// unlisted references stay as written; a file that is not an artifacts document fails the step.
func TestRunArtifacts(t *testing.T) {
	d := newDirs(t)
	doc := `{"inputs":[{"name":"src","values":[{"uri":"git+x","digest":{"sha1":"1"}}]}],
	  "outputs":[{"name":"image","buildOutput":true,"values":[{"uri":"pkg:oci/app","digest":{"sha256":"abc"}}]}]}`
	o := d.opts(RunOptions{Name: "producer", Script: "cat > " + StepArtifactsPath(d.steps, "producer") + " <<'EOF'\n" + doc + "\nEOF\n" +
		"echo '{\"outputs\":[{\"name\":\"t\"}]}' > " + taskArtifactsPath(d.steps) + "\n"})
	o.Stdout, o.Stderr = &bytes.Buffer{}, &bytes.Buffer{}
	if code, err := Run(context.Background(), o); code != 0 || err != nil {
		t.Fatalf("producer: exit %d, %v, stderr %s", code, err, o.Stderr)
	}
	m := readMessage(t, d.term)
	if got, want := string(m.StepArtifacts), `{"inputs":[{"name":"src","values":[{"digest":{"sha1":"1"},"uri":"git+x"}]}],"outputs":[{"name":"image","values":[{"digest":{"sha256":"abc"},"uri":"pkg:oci/app"}],"buildOutput":true}]}`; got != want {
		t.Errorf("stepArtifacts = %s, want %s", got, want)
	}
	if got, want := string(m.Artifacts), `{"outputs":[{"name":"t"}]}`; got != want {
		t.Errorf("artifacts = %s, want %s", got, want)
	}

	var out bytes.Buffer
	c := d.opts(RunOptions{Name: "consumer",
		Script:           "echo '$(steps.producer.outputs.image)' '$(steps.producer.inputs)' '$(steps.producer.outputs.other)'\n",
		StepArtifactRefs: []StepArtifactRef{{Step: "producer", Kind: "outputs", Name: "image"}, {Step: "producer", Kind: "inputs"}}})
	c.Stdout, c.Stderr = &out, &bytes.Buffer{}
	if code, err := Run(context.Background(), c); code != 0 || err != nil {
		t.Fatalf("consumer: exit %d, %v, stderr %s", code, err, c.Stderr)
	}
	want := `[{"digest":{"sha256":"abc"},"uri":"pkg:oci/app"}] [{"digest":{"sha1":"1"},"uri":"git+x"}] $(steps.producer.outputs.other)` + "\n"
	if out.String() != want {
		t.Errorf("consumer printed %q, want %q", out.String(), want)
	}

	bad := d.opts(RunOptions{Name: "bad", Script: "echo 'not json' > " + StepArtifactsPath(d.steps, "bad") + "\n"})
	bad.Stdout, bad.Stderr = &bytes.Buffer{}, &bytes.Buffer{}
	if code, _ := Run(context.Background(), bad); code == 0 {
		t.Errorf("a step whose artifacts file is not JSON succeeded")
	}
	if m := readMessage(t, d.term); m.ExitCode == 0 || !strings.Contains(m.Message, "artifacts") {
		t.Errorf("message = %+v, want a failure about the artifacts file", m)
	}
	if _, err := os.Stat(filepath.Dir(StepArtifactsPath(d.steps, "bad"))); err != nil {
		t.Errorf("step artifacts directory: %v", err)
	}
}

func TestParseStepArtifactRefs(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []StepArtifactRef
		wantErr bool
	}{
		{in: ""},
		{in: "a/outputs/img,b/inputs", want: []StepArtifactRef{{"a", "outputs", "img"}, {"b", "inputs", ""}}},
		{in: "a/results/x", wantErr: true},
		{in: "a", wantErr: true},
		{in: "/outputs", wantErr: true},
		{in: "a/outputs/", wantErr: true},
		{in: "a/outputs/x/y", wantErr: true},
	} {
		got, err := ParseStepArtifactRefs(tc.in)
		if (err != nil) != tc.wantErr || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseStepArtifactRefs(%q) = %v, %v", tc.in, got, err)
		}
		for _, r := range got {
			back, err := ParseStepArtifactRefs(r.String())
			if err != nil || len(back) != 1 || back[0] != r {
				t.Errorf("round trip of %v: %v, %v", r, back, err)
			}
		}
	}
}
