package executor

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	pipelinev1 "github.com/hookrun/hookrun/api/pipeline/v1"
)

// entrypointLookup returns how buildPod learns the entrypoint of an image, for a TaskRun that has steps
// running their image's own entrypoint; nil when there are none or lookups are off. Registry
// credentials are the docker configs of the ServiceAccount's imagePullSecrets and Secrets and of the
// pod template's imagePullSecrets, read once, when the first image is looked up.
func (r *TaskRunReconciler) entrypointLookup(ctx context.Context, tr *pipelinev1.TaskRun, spec *pipelinev1.TaskSpec) func(string) (imageCommand, error) {
	if r.entrypoints == nil || !hasImageEntrypointStep(spec) {
		return nil
	}
	var once sync.Once
	var kc authn.Keychain
	return func(image string) (imageCommand, error) {
		once.Do(func() { kc = r.pullKeychain(ctx, tr) })
		ic, err := r.entrypoints.lookup(ctx, image, kc)
		if err != nil {
			r.log.Info("image entrypoint unknown: the Pod's steps run as init containers", "namespace", tr.Namespace,
				"taskrun", tr.Name, "image", image, "error", err.Error())
		}
		return ic, err
	}
}

func hasImageEntrypointStep(spec *pipelinev1.TaskSpec) bool {
	if spec == nil {
		return false
	}
	for _, st := range spec.Steps {
		if st.Script == "" && len(st.Command) == 0 && (spec.StepTemplate == nil || len(spec.StepTemplate.Command) == 0) {
			return true
		}
	}
	return false
}

// pullKeychain gathers the docker configs the kubelet would pull the TaskRun's images with. Secrets that
// cannot be read are left out (the lookup then goes anonymous, and may fall back).
func (r *TaskRunReconciler) pullKeychain(ctx context.Context, tr *pipelinev1.TaskRun) authn.Keychain {
	names := map[string]bool{}
	if pt := tr.Spec.PodTemplate; pt != nil {
		for _, s := range pt.ImagePullSecrets {
			names[s.Name] = true
		}
	}
	saName := tr.Spec.ServiceAccountName
	if saName == "" {
		saName = "default"
	}
	var sa corev1.ServiceAccount
	if err := r.client.Get(ctx, types.NamespacedName{Namespace: tr.Namespace, Name: saName}, &sa); err == nil {
		for _, s := range sa.ImagePullSecrets {
			names[s.Name] = true
		}
		for _, s := range sa.Secrets {
			names[s.Name] = true
		}
	}
	var configs [][]byte
	for name := range names {
		var s corev1.Secret
		if err := r.apiReader.Get(ctx, types.NamespacedName{Namespace: tr.Namespace, Name: name}, &s); err != nil {
			continue
		}
		switch s.Type {
		case corev1.SecretTypeDockerConfigJson:
			configs = append(configs, s.Data[corev1.DockerConfigJsonKey])
		case corev1.SecretTypeDockercfg:
			configs = append(configs, s.Data[corev1.DockerConfigKey])
		case corev1.SecretTypeBasicAuth:
			// Tekton's docker basic-auth Secrets: annotated tekton.dev/docker-N: REGISTRY.
			for k, v := range s.Annotations {
				if strings.HasPrefix(k, annotationDocker) && v != "" {
					b, err := json.Marshal(map[string]any{"auths": map[string]authn.AuthConfig{v: {
						Username: string(s.Data[corev1.BasicAuthUsernameKey]), Password: string(s.Data[corev1.BasicAuthPasswordKey])}}})
					if err == nil {
						configs = append(configs, b)
					}
				}
			}
		}
	}
	return newDockerKeychain(configs...)
}
