package resolve

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// fakeSecrets is a client.Reader holding Secrets by "namespace/name" (the cluster resolver is tested
// against a real API server in the executor's tests).
type fakeSecrets map[string]map[string]string

func (f fakeSecrets) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	sec, ok := obj.(*corev1.Secret)
	data, found := f[key.Namespace+"/"+key.Name]
	if !ok || !found {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, key.Name)
	}
	sec.Data = map[string][]byte{}
	for k, v := range data {
		sec.Data[k] = []byte(strings.Clone(v))
	}
	return nil
}

func (f fakeSecrets) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }
