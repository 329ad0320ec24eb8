package dev

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/hookrun/hookrun/api/load"
	"github.com/hookrun/hookrun/api/validate"
)

// secretsFile holds the webhook secrets `hookrun dev` generated for this state directory, keyed
// "namespace/secret/key". It is written once per key (0600) and reused on every later start, so a
// forge's webhook configured with it keeps working across restarts.
const secretsFile = "secrets.json"

// Generated is one Secret value hookrun dev filled in for a placeholder.
type Generated struct {
	Namespace, Secret, Key, Value string
}

// secretStore is the state directory's generated secrets.
type secretStore struct {
	path   string
	values map[string]string
}

func openSecrets(state string) (*secretStore, error) {
	s := &secretStore{path: filepath.Join(state, secretsFile), values: map[string]string{}}
	data, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("read generated secrets: %w", err)
	}
	if err := json.Unmarshal(data, &s.values); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON (delete it to generate new secrets): %w", s.path, err)
	}
	return s, os.Chmod(s.path, 0o600)
}

// get returns the secret for id, generating (and saving) a random one the first time.
func (s *secretStore) get(id string) (string, error) {
	if v, ok := s.values[id]; ok && v != "" {
		return v, nil
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate secret: %w", err)
	}
	s.values[id] = hex.EncodeToString(b)
	data, err := json.MarshalIndent(s.values, "", "  ")
	if err != nil {
		return "", err
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("save generated secrets: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return "", fmt.Errorf("save generated secrets: %w", err)
	}
	return s.values[id], nil
}

// fillSecrets replaces every validate.SecretPlaceholder value in the Secrets among objs with the state
// directory's generated secret for that namespace/name/key, and returns what it filled, sorted.
func fillSecrets(objs []load.Object, ns string, store *secretStore) ([]Generated, error) {
	var out []Generated
	for i := range objs {
		o := &objs[i]
		sec, ok := o.Obj.(*corev1.Secret)
		if !ok {
			continue
		}
		keys := validate.PlaceholderKeys(sec)
		if len(keys) == 0 {
			continue
		}
		secNS := sec.Namespace
		if secNS == "" {
			secNS = ns
		}
		var doc map[string]any
		if err := json.Unmarshal(o.JSON, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", o.Where(), err)
		}
		for _, field := range keys {
			where, key, _ := strings.Cut(field, ".")
			v, err := store.get(secNS + "/" + sec.Name + "/" + key)
			if err != nil {
				return nil, err
			}
			m, _ := doc[where].(map[string]any)
			if m == nil {
				return nil, fmt.Errorf("%s: %s not found", o.Where(), where)
			}
			if where == "stringData" {
				sec.StringData[key], m[key] = v, v
			} else {
				sec.Data[key], m[key] = []byte(v), base64.StdEncoding.EncodeToString([]byte(v))
			}
			out = append(out, Generated{Namespace: secNS, Secret: sec.Name, Key: key, Value: v})
		}
		data, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Where(), err)
		}
		o.JSON = data
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.Namespace+"/"+a.Secret+"/"+a.Key < b.Namespace+"/"+b.Secret+"/"+b.Key
	})
	return out, nil
}
