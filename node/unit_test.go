package node

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"$(A)", "1"},
		{"x$(A)y$(B)z", "x1ytwoz"},
		{"$(MISSING)", "$(MISSING)"},
		{"$$(A)", "$(A)"},
		{"$$", "$"},
		{"$A", "$A"},
		{"$(A", "$(A"},
		{"cost $5", "cost $5"},
		{"trailing $", "trailing $"},
		{"$()", "$()"},
	}
	for _, tc := range tests {
		if got := expand(tc.in, lookup); got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPathRewriter(t *testing.T) {
	rw := newPathRewriter([]bindMount{
		{Source: "/s/ws", Target: "/workspace"},
		{Source: "/s/src", Target: "/workspace/source"},
		{Source: "/s/results", Target: "/tekton/results"},
		{Source: "/s/term", Target: "/tekton/termination"},
	})
	tests := []struct{ in, want string }{
		{"/workspace/source", "/s/src"},
		{"/workspace/source/dir/f", "/s/src/dir/f"},
		{"/workspace/other", "/s/ws/other"},
		{"/workspace/source-x", "/s/ws/source-x"},
		{"--results=/tekton/results/x", "--results=/s/results/x"},
		{"cd /workspace/source && ls /tekton/results", "cd /s/src && ls /s/results"},
		{"/foo/workspace/source", "/foo/workspace/source"},
		{"/tekton/termination", "/s/term"},
		{"/tekton/terminationx", "/tekton/terminationx"},
		{"no paths", "no paths"},
		{"'/workspace/source'", "'/s/src'"},
	}
	for _, tc := range tests {
		if got := rw.rewrite(tc.in); got != tc.want {
			t.Errorf("rewrite(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if env := rw.environ(); !strings.Contains(env, "/workspace/source=/s/src") {
		t.Errorf("environ() = %q", env)
	}
}

func TestIsSelfImage(t *testing.T) {
	pats := []string{DefaultSelfImage}
	tests := []struct {
		image string
		want  bool
	}{
		{"ghcr.io/hookrun/hookrun:latest", true},
		{"ghcr.io/hookrun/hookrun:v1.2.3", true},
		{"ghcr.io/hookrun/hookrun", true},
		{"ghcr.io/hookrun/hookrun@sha256:abc", true},
		{"ghcr.io/hookrun/hookrun:v1@sha256:abc", true},
		{"ghcr.io/hookrun/hookrun-other:latest", false},
		{"alpine", false},
		{"gcr.io/kaniko-project/executor:latest", false},
	}
	for _, tc := range tests {
		if got := isSelfImage(pats, tc.image); got != tc.want {
			t.Errorf("isSelfImage(%q) = %v, want %v", tc.image, got, tc.want)
		}
	}
	if !isSelfImage([]string{"localhost:5000/hookrun:*"}, "localhost:5000/hookrun:dev") {
		t.Error("custom pattern with a registry port did not match")
	}
}

func TestMatchesNodeSelector(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"kubernetes.io/os": "linux", "zone": "a"}}}
	term := func(exprs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: exprs}
	}
	req := func(k string, op corev1.NodeSelectorOperator, v ...string) corev1.NodeSelectorRequirement {
		return corev1.NodeSelectorRequirement{Key: k, Operator: op, Values: v}
	}
	tests := []struct {
		name string
		sel  corev1.NodeSelector
		want bool
	}{
		{"in", corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{term(req("zone", corev1.NodeSelectorOpIn, "a", "b"))}}, true},
		{"not in", corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{term(req("zone", corev1.NodeSelectorOpNotIn, "a"))}}, false},
		{"or of terms", corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			term(req("zone", corev1.NodeSelectorOpIn, "b")), term(req("kubernetes.io/os", corev1.NodeSelectorOpExists))}}, true},
		{"and in term", corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			term(req("zone", corev1.NodeSelectorOpIn, "a"), req("gpu", corev1.NodeSelectorOpExists))}}, false},
		{"field name", corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{
			req("metadata.name", corev1.NodeSelectorOpIn, "n1")}}}}, true},
		{"other name", corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{
			req("metadata.name", corev1.NodeSelectorOpIn, "n2")}}}}, false},
		{"empty term", corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{}}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := matchesNodeSelector(&tc.sel, node); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWriteLogsPrefixAndFollow(t *testing.T) {
	state := t.TempDir()
	dir := PodDir(state, "ns", "p")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, podMetaFile), []byte(`{"uid":"u","containers":["a","b","never"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(LogPath(state, "ns", "p", "a"), []byte("one\ntwo"), 0o644)
	os.WriteFile(LogPath(state, "ns", "p", "b"), []byte("three\n"), 0o644)
	os.WriteFile(filepath.Join(dir, podDoneFile), nil, 0o644)

	var buf bytes.Buffer
	if err := WriteLogs(context.Background(), &buf, state, "ns", "p", "", true); err != nil {
		t.Fatal(err)
	}
	if want := "[a] one\n[a] two\n[b] three\n"; buf.String() != want {
		t.Errorf("all containers:\n%q\nwant\n%q", buf.String(), want)
	}
	buf.Reset()
	if err := WriteLogs(context.Background(), &buf, state, "ns", "p", "b", false); err != nil || buf.String() != "three\n" {
		t.Errorf("-c b: %q, %v", buf.String(), err)
	}
	if err := WriteLogs(context.Background(), &buf, state, "ns", "p", "zzz", false); err == nil {
		t.Error("unknown container: no error")
	}
	if err := WriteLogs(context.Background(), &buf, state, "ns", "nope", "", false); err == nil {
		t.Error("unknown pod: no error")
	}
}

func TestParseMemTotal(t *testing.T) {
	in := "MemTotal:       16318256 kB\nMemFree: 1 kB\n"
	if got := parseMemTotal(strings.NewReader(in), 0); got != 16318256*1024 {
		t.Errorf("got %d", got)
	}
	if got := parseMemTotal(strings.NewReader("junk"), 7); got != 7 {
		t.Errorf("fallback: got %d", got)
	}
}

func TestArgsCommand(t *testing.T) {
	tests := []struct {
		image string
		args  []string
		want  []string // nil: only a container runtime knows
	}{
		{"bash:3.2", []string{"echo", "a"}, []string{"echo", "a"}},
		{"docker.io/library/bash:latest", []string{"-c", "echo a"}, []string{"bash", "-c", "echo a"}},
		{"mirror.gcr.io/ubuntu@sha256:0d39", []string{"sh", "-c", "true"}, []string{"sh", "-c", "true"}},
		{"alpine:3.20@sha256:abc", []string{"ls"}, []string{"ls"}},
		{"localhost:5000/busybox", []string{"true"}, []string{"true"}},
		{"busybox", nil, nil},
		{"gcr.io/kaniko-project/executor:v1.8.1", []string{"--dockerfile=Dockerfile"}, nil},
		{"example.com/team/alpine-tools", []string{"ls"}, nil},
	}
	for _, tc := range tests {
		got, ok := argsCommand(tc.image, tc.args)
		if ok != (tc.want != nil) || strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("argsCommand(%q, %q) = %q, %v; want %q", tc.image, tc.args, got, ok, tc.want)
		}
	}
}
