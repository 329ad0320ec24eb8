package executor

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
)

// Variables from envFrom Secrets (steps, the stepTemplate's envFrom merged into them, script sidecars):
// the Pod does not name them, so the executor reads each Secret an envFrom names and adds PREFIX+KEY of
// each of its keys to the wrapper's --mask-env, unless the container's own env sets that name (env wins
// over envFrom, as the kubelet does). A Secret that does not exist adds nothing (the kubelet then fails
// the Pod unless the reference is optional); Secrets read after the Pod is built are not seen. Containers
// hookrun does not wrap (sidecars without a script) are not masked, as for secretKeyRef.

// maskEnvFrom adds the envFrom Secrets' variables to each wrapped container's --mask-env.
func (r *TaskRunReconciler) maskEnvFrom(ctx context.Context, pod *corev1.Pod) error {
	keys := map[string][]string{} // Secret name → its keys (nil: absent)
	secretKeys := func(name string) ([]string, error) {
		if k, ok := keys[name]; ok {
			return k, nil
		}
		var s corev1.Secret
		err := r.apiReader.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: name}, &s)
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("read Secret %s/%s of an envFrom: %w", pod.Namespace, name, err)
		}
		var k []string
		for key := range s.Data {
			k = append(k, key)
		}
		for key := range s.StringData {
			k = append(k, key)
		}
		sort.Strings(k)
		keys[name] = k
		return k, nil
	}
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			c := &list[i]
			if !wrapped(*c) {
				continue
			}
			var names []string
			for _, ef := range c.EnvFrom {
				if ef.SecretRef == nil || ef.SecretRef.Name == "" {
					continue
				}
				k, err := secretKeys(ef.SecretRef.Name)
				if err != nil {
					return err
				}
				for _, key := range k {
					names = append(names, ef.Prefix+key)
				}
			}
			c.Command = addMaskEnv(c.Command, envFromMasked(c.Env, names))
		}
	}
	return nil
}

// envFromMasked keeps the names env does not set itself (a plain value there replaces the Secret's),
// usable in the comma-separated flag, without duplicates.
func envFromMasked(env []corev1.EnvVar, names []string) []string {
	var out []string
	for _, n := range names {
		overridden := slices.ContainsFunc(env, func(e corev1.EnvVar) bool { return e.Name == n })
		if n == "" || strings.ContainsAny(n, ",=") || overridden || slices.Contains(out, n) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// addMaskEnv appends names to the wrapper command's --mask-env value, adding the flag before "--" when
// the command has none.
func addMaskEnv(cmd, names []string) []string {
	if len(names) == 0 {
		return cmd
	}
	end := slices.Index(cmd, "--")
	if end < 0 {
		end = len(cmd)
	}
	if i := slices.Index(cmd[:end], "--mask-env"); i >= 0 && i+1 < end {
		cmd = slices.Clone(cmd)
		cmd[i+1] += "," + strings.Join(names, ",")
		return cmd
	}
	return insertBeforeDashes(cmd, "--mask-env", strings.Join(names, ","))
}
