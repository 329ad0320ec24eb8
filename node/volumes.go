package node

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// permanentError marks a Pod configuration that can never work on this node; other errors are retried.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(format string, args ...any) error {
	return &permanentError{err: fmt.Errorf(format, args...)}
}

func isPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// volume is a Pod volume as prepared on this host.
type volume struct {
	path     string
	readOnly bool // always mounted read-only (secret, configMap, downwardAPI, projected)
}

// objects fetches and memoises the Secrets and ConfigMaps a Pod refers to.
type objects struct {
	a          *Agent
	ns         string
	secrets    map[string]*corev1.Secret
	configMaps map[string]*corev1.ConfigMap
}

func newObjects(a *Agent, ns string) *objects {
	return &objects{a: a, ns: ns, secrets: map[string]*corev1.Secret{}, configMaps: map[string]*corev1.ConfigMap{}}
}

// secret returns the Secret, nil when it does not exist.
func (o *objects) secret(ctx context.Context, name string) (*corev1.Secret, error) {
	if s, ok := o.secrets[name]; ok {
		return s, nil
	}
	s, err := o.a.cs.CoreV1().Secrets(o.ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get secret %q: %w", name, err)
	}
	o.secrets[name] = s
	return s, nil
}

// configMap returns the ConfigMap, nil when it does not exist.
func (o *objects) configMap(ctx context.Context, name string) (*corev1.ConfigMap, error) {
	if c, ok := o.configMaps[name]; ok {
		return c, nil
	}
	c, err := o.a.cs.CoreV1().ConfigMaps(o.ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get configmap %q: %w", name, err)
	}
	o.configMaps[name] = c
	return c, nil
}

// prepareVolumes creates the directories and files of every volume of the Pod.
func (r *podRunner) prepareVolumes(ctx context.Context, objs *objects) (map[string]volume, error) {
	vols := map[string]volume{}
	for i := range r.pod.Spec.Volumes {
		v := &r.pod.Spec.Volumes[i]
		vol, err := r.prepareVolume(ctx, objs, v)
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		vols[v.Name] = vol
	}
	return vols, nil
}

func (r *podRunner) prepareVolume(ctx context.Context, objs *objects, v *corev1.Volume) (volume, error) {
	dir := filepath.Join(r.dir, "volumes", v.Name)
	switch {
	case v.EmptyDir != nil:
		return volume{path: dir}, os.MkdirAll(dir, 0o777)
	case v.PersistentVolumeClaim != nil:
		claim := v.PersistentVolumeClaim.ClaimName
		if _, err := r.a.cs.CoreV1().PersistentVolumeClaims(r.pod.Namespace).Get(ctx, claim, metav1.GetOptions{}); err != nil {
			return volume{}, fmt.Errorf("persistentvolumeclaim %q: %w", claim, err)
		}
		p := PVCPath(r.a.opts.StateDir, r.pod.Namespace, claim)
		return volume{path: p, readOnly: v.PersistentVolumeClaim.ReadOnly}, os.MkdirAll(p, 0o777)
	case v.HostPath != nil:
		p := v.HostPath.Path
		t := corev1.HostPathUnset
		if v.HostPath.Type != nil {
			t = *v.HostPath.Type
		}
		switch t {
		case corev1.HostPathDirectoryOrCreate:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return volume{}, err
			}
		case corev1.HostPathFileOrCreate:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return volume{}, err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return volume{}, err
			}
			f.Close()
		default:
			if _, err := os.Stat(p); err != nil {
				return volume{}, fmt.Errorf("hostPath: %w", err)
			}
		}
		return volume{path: p}, nil
	}

	// Volumes whose content is written from API objects: rebuilt from scratch.
	if err := os.RemoveAll(dir); err != nil {
		return volume{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return volume{}, err
	}
	switch {
	case v.Secret != nil:
		s := v.Secret
		return volume{path: dir, readOnly: true}, r.writeSecret(ctx, objs, dir, s.SecretName, s.Items, s.Optional, s.DefaultMode)
	case v.ConfigMap != nil:
		c := v.ConfigMap
		return volume{path: dir, readOnly: true}, r.writeConfigMap(ctx, objs, dir, c.Name, c.Items, c.Optional, c.DefaultMode)
	case v.DownwardAPI != nil:
		return volume{path: dir, readOnly: true}, r.writeDownwardAPI(dir, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
	case v.Projected != nil:
		return volume{path: dir, readOnly: true}, r.writeProjected(ctx, objs, dir, v)
	}
	return volume{}, permanent("volume type is not supported by the hookrun node agent (supported: emptyDir, " +
		"persistentVolumeClaim, hostPath, secret, configMap, downwardAPI, projected)")
}

func fileMode(item *int32, def *int32, fallback os.FileMode) os.FileMode {
	switch {
	case item != nil:
		return os.FileMode(*item) & os.ModePerm
	case def != nil:
		return os.FileMode(*def) & os.ModePerm
	}
	return fallback
}

// writeFile writes one volume file at the relative path rel inside dir.
func writeFile(dir, rel string, data []byte, mode os.FileMode) error {
	clean := filepath.Clean(rel)
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return permanent("path %q escapes the volume", rel)
	}
	p := filepath.Join(dir, clean)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		return err
	}
	return os.Chmod(p, mode)
}

// writeKeys writes data (key → bytes) selecting items when given.
func writeKeys(dir, kind, name string, data map[string][]byte, items []corev1.KeyToPath, optional bool, def *int32) error {
	if len(items) == 0 {
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if err := writeFile(dir, k, data[k], fileMode(nil, def, 0o644)); err != nil {
				return err
			}
		}
		return nil
	}
	for _, it := range items {
		b, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return fmt.Errorf("%s %q has no key %q", kind, name, it.Key)
		}
		if err := writeFile(dir, it.Path, b, fileMode(it.Mode, def, 0o644)); err != nil {
			return err
		}
	}
	return nil
}

func (r *podRunner) writeSecret(ctx context.Context, objs *objects, dir, name string, items []corev1.KeyToPath, optional *bool, def *int32) error {
	s, err := objs.secret(ctx, name)
	if err != nil {
		return err
	}
	opt := optional != nil && *optional
	if s == nil {
		if opt {
			return nil
		}
		return fmt.Errorf("secret %q not found", name)
	}
	data := map[string][]byte{}
	for k, v := range s.Data {
		data[k] = v
	}
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	return writeKeys(dir, "secret", name, data, items, opt, def)
}

func (r *podRunner) writeConfigMap(ctx context.Context, objs *objects, dir, name string, items []corev1.KeyToPath, optional *bool, def *int32) error {
	c, err := objs.configMap(ctx, name)
	if err != nil {
		return err
	}
	opt := optional != nil && *optional
	if c == nil {
		if opt {
			return nil
		}
		return fmt.Errorf("configmap %q not found", name)
	}
	data := map[string][]byte{}
	for k, v := range c.Data {
		data[k] = []byte(v)
	}
	for k, v := range c.BinaryData {
		data[k] = v
	}
	return writeKeys(dir, "configmap", name, data, items, opt, def)
}

func (r *podRunner) writeDownwardAPI(dir string, items []corev1.DownwardAPIVolumeFile, def *int32) error {
	for _, it := range items {
		var val string
		var err error
		switch {
		case it.FieldRef != nil:
			val, err = r.fieldValue(it.FieldRef.FieldPath, true)
		case it.ResourceFieldRef != nil:
			val, err = r.resourceValue(it.ResourceFieldRef, "")
		default:
			err = permanent("downwardAPI item %q has no fieldRef or resourceFieldRef", it.Path)
		}
		if err != nil {
			return err
		}
		if err := writeFile(dir, it.Path, []byte(val), fileMode(it.Mode, def, 0o644)); err != nil {
			return err
		}
	}
	return nil
}

func (r *podRunner) writeProjected(ctx context.Context, objs *objects, dir string, v *corev1.Volume) error {
	p := v.Projected
	// The ServiceAccount admission plugin injects kube-api-access-* volumes; without a controller-manager
	// their kube-root-ca.crt ConfigMap never exists, so their sources are best effort.
	lenient := strings.HasPrefix(v.Name, "kube-api-access-")
	for _, src := range p.Sources {
		var err error
		switch {
		case src.Secret != nil:
			err = r.writeSecret(ctx, objs, dir, src.Secret.Name, src.Secret.Items, src.Secret.Optional, p.DefaultMode)
		case src.ConfigMap != nil:
			err = r.writeConfigMap(ctx, objs, dir, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, p.DefaultMode)
		case src.DownwardAPI != nil:
			err = r.writeDownwardAPI(dir, src.DownwardAPI.Items, p.DefaultMode)
		case src.ServiceAccountToken != nil:
			err = r.writeToken(ctx, dir, src.ServiceAccountToken, p.DefaultMode)
		default:
			err = permanent("projected volume source is not supported by the hookrun node agent")
		}
		if err != nil && lenient {
			r.log.Warn("skipping projected volume source", "volume", v.Name, "err", err)
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *podRunner) writeToken(ctx context.Context, dir string, t *corev1.ServiceAccountTokenProjection, def *int32) error {
	sa := r.pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	exp := int64(3600)
	if t.ExpirationSeconds != nil {
		exp = *t.ExpirationSeconds
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &exp,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: r.pod.Name, UID: r.pod.UID},
	}}
	if t.Audience != "" {
		req.Spec.Audiences = []string{t.Audience}
	}
	tok, err := r.a.cs.CoreV1().ServiceAccounts(r.pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("token for service account %q: %w", sa, err)
	}
	return writeFile(dir, t.Path, []byte(tok.Status.Token), fileMode(nil, def, 0o600))
}

// fieldValue resolves a downward-API field path. Whole label/annotation maps are only allowed in volumes.
func (r *podRunner) fieldValue(fieldPath string, inVolume bool) (string, error) {
	p := r.pod
	switch fieldPath {
	case "metadata.name":
		return p.Name, nil
	case "metadata.namespace":
		return p.Namespace, nil
	case "metadata.uid":
		return string(p.UID), nil
	case "spec.nodeName":
		return r.a.opts.NodeName, nil
	case "spec.serviceAccountName":
		return p.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs":
		return localIP, nil
	case "metadata.labels", "metadata.annotations":
		if inVolume {
			m := p.Labels
			if fieldPath == "metadata.annotations" {
				m = p.Annotations
			}
			return formatMap(m), nil
		}
	}
	for _, prefix := range []string{"metadata.labels", "metadata.annotations"} {
		if key, ok := strings.CutPrefix(fieldPath, prefix+"['"); ok {
			if key, ok = strings.CutSuffix(key, "']"); ok {
				if prefix == "metadata.labels" {
					return p.Labels[key], nil
				}
				return p.Annotations[key], nil
			}
		}
	}
	return "", permanent("unsupported fieldRef %q", fieldPath)
}

// formatMap renders labels or annotations like the kubelet: sorted key="value" lines.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q\n", k, m[k])
	}
	return b.String()
}

// resourceValue resolves a resourceFieldRef; limits fall back to the node's allocatable.
func (r *podRunner) resourceValue(ref *corev1.ResourceFieldSelector, defaultContainer string) (string, error) {
	name := ref.ContainerName
	if name == "" {
		name = defaultContainer
	}
	var c *corev1.Container
	for _, list := range [][]corev1.Container{r.pod.Spec.InitContainers, r.pod.Spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				c = &list[i]
			}
		}
	}
	if c == nil {
		return "", permanent("resourceFieldRef: container %q not found", name)
	}
	kind, res, ok := strings.Cut(ref.Resource, ".")
	if !ok {
		return "", permanent("unsupported resourceFieldRef %q", ref.Resource)
	}
	var q resource.Quantity
	var found bool
	switch kind {
	case "limits":
		q, found = c.Resources.Limits[corev1.ResourceName(res)]
	case "requests":
		q, found = c.Resources.Requests[corev1.ResourceName(res)]
	default:
		return "", permanent("unsupported resourceFieldRef %q", ref.Resource)
	}
	if !found {
		if kind == "requests" {
			return "0", nil
		}
		q = r.a.capacity[corev1.ResourceName(res)]
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if res == string(corev1.ResourceCPU) {
		return fmt.Sprint(int64(math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue())))), nil
	}
	return fmt.Sprint(int64(math.Ceil(float64(q.Value()) / float64(divisor.Value())))), nil
}
