package executor

import (
	corev1 "k8s.io/api/core/v1"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
	"github.com/hookrun/hookrun/executor/subst"
)

// applyStepTemplate merges the step template into a step: step fields win, env and volume mounts merge by
// name and mount path.
func applyStepTemplate(st pipelinev1.Step, t *pipelinev1.StepTemplate) pipelinev1.Step {
	if t == nil {
		return st
	}
	if st.Image == "" {
		st.Image = t.Image
	}
	if st.Command == nil && st.Script == "" {
		st.Command = t.Command
		if st.Args == nil {
			st.Args = t.Args
		}
	}
	if st.WorkingDir == "" {
		st.WorkingDir = t.WorkingDir
	}
	st.Env = mergeEnv(t.Env, st.Env)
	if len(t.EnvFrom) > 0 {
		st.EnvFrom = append(append([]corev1.EnvFromSource{}, t.EnvFrom...), st.EnvFrom...)
	}
	if isEmptyResources(st.ComputeResources) {
		st.ComputeResources = t.ComputeResources
	}
	st.VolumeMounts = mergeMounts(t.VolumeMounts, st.VolumeMounts)
	if len(st.VolumeDevices) == 0 {
		st.VolumeDevices = t.VolumeDevices
	}
	if st.ImagePullPolicy == "" {
		st.ImagePullPolicy = t.ImagePullPolicy
	}
	if st.SecurityContext == nil {
		st.SecurityContext = t.SecurityContext
	}
	return st
}

func isEmptyResources(r corev1.ResourceRequirements) bool {
	return len(r.Limits) == 0 && len(r.Requests) == 0 && len(r.Claims) == 0
}

// mergeEnv returns base with override applied by name: overridden entries keep base's position.
func mergeEnv(base, override []corev1.EnvVar) []corev1.EnvVar {
	if len(base) == 0 {
		return override
	}
	out := make([]corev1.EnvVar, 0, len(base)+len(override))
	idx := map[string]int{}
	for _, e := range base {
		idx[e.Name] = len(out)
		out = append(out, e)
	}
	for _, e := range override {
		if i, ok := idx[e.Name]; ok {
			out[i] = e
			continue
		}
		idx[e.Name] = len(out)
		out = append(out, e)
	}
	return out
}

func mergeMounts(base, override []corev1.VolumeMount) []corev1.VolumeMount {
	if len(base) == 0 {
		return override
	}
	out := append([]corev1.VolumeMount{}, override...)
	have := map[string]bool{}
	for _, m := range override {
		have[m.MountPath] = true
	}
	for _, m := range base {
		if !have[m.MountPath] {
			out = append(out, m)
		}
	}
	return out
}

// substituteEnv replaces variables in env values and the names of referenced ConfigMaps and Secrets.
func substituteEnv(env []corev1.EnvVar, v subst.Resolver) []corev1.EnvVar {
	if env == nil {
		return nil
	}
	out := make([]corev1.EnvVar, len(env))
	for i, e := range env {
		e = *e.DeepCopy()
		e.Value = subst.String(e.Value, v)
		if f := e.ValueFrom; f != nil {
			if f.SecretKeyRef != nil {
				f.SecretKeyRef.Name = subst.String(f.SecretKeyRef.Name, v)
				f.SecretKeyRef.Key = subst.String(f.SecretKeyRef.Key, v)
			}
			if f.ConfigMapKeyRef != nil {
				f.ConfigMapKeyRef.Name = subst.String(f.ConfigMapKeyRef.Name, v)
				f.ConfigMapKeyRef.Key = subst.String(f.ConfigMapKeyRef.Key, v)
			}
		}
		out[i] = e
	}
	return out
}

func substituteEnvFrom(list []corev1.EnvFromSource, v subst.Resolver) []corev1.EnvFromSource {
	if list == nil {
		return nil
	}
	out := make([]corev1.EnvFromSource, len(list))
	for i, e := range list {
		e = *e.DeepCopy()
		e.Prefix = subst.String(e.Prefix, v)
		if e.ConfigMapRef != nil {
			e.ConfigMapRef.Name = subst.String(e.ConfigMapRef.Name, v)
		}
		if e.SecretRef != nil {
			e.SecretRef.Name = subst.String(e.SecretRef.Name, v)
		}
		out[i] = e
	}
	return out
}

func substituteMounts(list []corev1.VolumeMount, v subst.Resolver) []corev1.VolumeMount {
	if list == nil {
		return nil
	}
	out := make([]corev1.VolumeMount, len(list))
	for i, m := range list {
		m.Name = subst.String(m.Name, v)
		m.MountPath = subst.String(m.MountPath, v)
		m.SubPath = subst.String(m.SubPath, v)
		out[i] = m
	}
	return out
}

func substituteVolumes(list []corev1.Volume, v subst.Resolver) []corev1.Volume {
	if list == nil {
		return nil
	}
	out := make([]corev1.Volume, len(list))
	for i, vol := range list {
		vol = *vol.DeepCopy()
		vol.Name = subst.String(vol.Name, v)
		if s := vol.Secret; s != nil {
			s.SecretName = subst.String(s.SecretName, v)
		}
		if c := vol.ConfigMap; c != nil {
			c.Name = subst.String(c.Name, v)
		}
		if p := vol.PersistentVolumeClaim; p != nil {
			p.ClaimName = subst.String(p.ClaimName, v)
		}
		if p := vol.Projected; p != nil {
			for j := range p.Sources {
				if s := p.Sources[j].Secret; s != nil {
					s.Name = subst.String(s.Name, v)
				}
				if c := p.Sources[j].ConfigMap; c != nil {
					c.Name = subst.String(c.Name, v)
				}
			}
		}
		if c := vol.CSI; c != nil {
			for k, x := range c.VolumeAttributes {
				c.VolumeAttributes[k] = subst.String(x, v)
			}
		}
		out[i] = vol
	}
	return out
}

// substituteStep replaces variables in every field of a step Tekton substitutes.
func substituteStep(st pipelinev1.Step, v subst.Resolver) pipelinev1.Step {
	st.Image = subst.String(st.Image, v)
	st.Command = subst.Strings(st.Command, v)
	st.Args = subst.Strings(st.Args, v)
	st.Script = subst.String(st.Script, v)
	st.WorkingDir = subst.String(st.WorkingDir, v)
	st.Env = substituteEnv(st.Env, v)
	st.EnvFrom = substituteEnvFrom(st.EnvFrom, v)
	st.VolumeMounts = substituteMounts(st.VolumeMounts, v)
	st.OnError = pipelinev1.OnErrorType(subst.String(string(st.OnError), v))
	st.ImagePullPolicy = corev1.PullPolicy(subst.String(string(st.ImagePullPolicy), v))
	return st
}

func substituteSidecar(sc pipelinev1.Sidecar, v subst.Resolver) pipelinev1.Sidecar {
	sc.Image = subst.String(sc.Image, v)
	sc.Command = subst.Strings(sc.Command, v)
	sc.Args = subst.Strings(sc.Args, v)
	sc.Script = subst.String(sc.Script, v)
	sc.WorkingDir = subst.String(sc.WorkingDir, v)
	sc.Env = substituteEnv(sc.Env, v)
	sc.EnvFrom = substituteEnvFrom(sc.EnvFrom, v)
	sc.VolumeMounts = substituteMounts(sc.VolumeMounts, v)
	sc.ImagePullPolicy = corev1.PullPolicy(subst.String(string(sc.ImagePullPolicy), v))
	return sc
}
