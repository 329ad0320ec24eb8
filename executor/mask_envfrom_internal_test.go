package executor

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestAddMaskEnv(t *testing.T) {
	run := []string{"/tekton/bin/hookrun", "step", "run", "--name", "s"}
	for _, tc := range []struct {
		name       string
		cmd, names []string
		want       []string
	}{
		{"nothing to add", append(slices.Clone(run), "--"), nil, append(slices.Clone(run), "--")},
		{"new flag before --", append(slices.Clone(run), "--", "sh", "-c", "x"), []string{"A", "P_B"},
			append(slices.Clone(run), "--mask-env", "A,P_B", "--", "sh", "-c", "x")},
		{"joins secretKeyRef's", append(slices.Clone(run), "--mask-env", "TOKEN", "--", "echo"), []string{"A"},
			append(slices.Clone(run), "--mask-env", "TOKEN,A", "--", "echo")},
		{"a --mask-env after -- is the step's own", append(slices.Clone(run), "--", "tool", "--mask-env", "x"), []string{"A"},
			append(slices.Clone(run), "--mask-env", "A", "--", "tool", "--mask-env", "x")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := slices.Clone(tc.cmd)
			if got := addMaskEnv(tc.cmd, tc.names); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if !slices.Equal(tc.cmd, orig) {
				t.Fatalf("the input command was changed: %q", tc.cmd)
			}
		})
	}
}

func TestEnvFromMasked(t *testing.T) {
	env := []corev1.EnvVar{{Name: "PLAIN", Value: "x"}, {Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "t"}}}}
	got := envFromMasked(env, []string{"A", "PLAIN", "A", "", "B,C", "D=E", "TOKEN", "Z"})
	if want := []string{"A", "Z"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
