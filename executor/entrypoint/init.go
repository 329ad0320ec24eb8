package entrypoint

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Credential is one ServiceAccount Secret to turn into tool configuration. The Secret's keys are files in
// Dir (the Secret volume), so Init never talks to the API server.
type Credential struct {
	// Kind is docker or git.
	Kind string
	// Name is the Secret name; its volume is mounted at SecretsDir/Name.
	Name string
	// URL is the tekton.dev/docker-N or tekton.dev/git-N annotation value.
	URL string
}

// The credential kinds.
const (
	CredDocker = "docker"
	CredGit    = "git"
)

// InitOptions configure Init.
type InitOptions struct {
	// CopySelf is where to copy the running executable ("" = don't).
	CopySelf string
	// Dirs are created (mode 0777, like an emptyDir) if missing.
	Dirs []string
	// Home receives .docker/config.json, .git-credentials, .gitconfig and .ssh.
	Home string
	// SecretsDir holds one directory per Credential (its Secret volume).
	SecretsDir  string
	Credentials []Credential
	// Self returns the path of the running executable (os.Executable when nil).
	Self func() (string, error)
	// CopyHookrun is where to copy the full hookrun binary ("" = don't); Hookrun finds it (nil: Self,
	// i.e. the running executable is the full binary).
	CopyHookrun string
	Hookrun     func() (string, error)
}

// Init prepares a TaskRun Pod's shared volumes.
func Init(opts InitOptions) error {
	for _, d := range opts.Dirs {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
		_ = os.Chmod(d, 0o777)
	}
	self := opts.Self
	if self == nil {
		self = os.Executable
	}
	hookrun := opts.Hookrun
	if hookrun == nil {
		hookrun = self
	}
	for _, c := range []struct {
		dst  string
		find func() (string, error)
	}{{opts.CopySelf, self}, {opts.CopyHookrun, hookrun}} {
		if c.dst == "" {
			continue
		}
		src, err := c.find()
		if err != nil {
			return fmt.Errorf("find executable for %s: %w", c.dst, err)
		}
		if err := copyFile(src, c.dst, 0o755); err != nil {
			return fmt.Errorf("copy %s to %s: %w", src, c.dst, err)
		}
	}
	if len(opts.Credentials) > 0 {
		if err := writeCredentials(opts); err != nil {
			return fmt.Errorf("credentials: %w", err)
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// dockerAuth is one entry of a docker config.json "auths" map.
type dockerAuth struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Auth     string `json:"auth,omitempty"`
	Email    string `json:"email,omitempty"`
}

func readKey(dir, key string) (string, bool) {
	b, err := os.ReadFile(filepath.Join(dir, key))
	if err != nil {
		return "", false
	}
	return string(b), true
}

func writeCredentials(opts InitOptions) error {
	auths := map[string]json.RawMessage{}
	var gitCreds, gitConfig, sshConfig, knownHosts strings.Builder
	for _, c := range opts.Credentials {
		dir := filepath.Join(opts.SecretsDir, c.Name)
		user, hasUser := readKey(dir, "username")
		pass, _ := readKey(dir, "password")
		switch c.Kind {
		case CredDocker:
			switch {
			case hasUser:
				a := dockerAuth{Username: user, Password: pass, Auth: base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}
				b, _ := json.Marshal(a)
				auths[c.URL] = b
			default:
				if err := mergeDockerConfig(dir, auths); err != nil {
					return fmt.Errorf("secret %s: %w", c.Name, err)
				}
			}
		case CredGit:
			key, hasKey := readKey(dir, "ssh-privatekey")
			switch {
			case hasUser:
				u, err := url.Parse(c.URL)
				if err != nil || u.Host == "" {
					return fmt.Errorf("secret %s: git URL %q must be like https://github.com", c.Name, c.URL)
				}
				cred := *u
				cred.User = url.UserPassword(user, pass)
				cred.Path = ""
				fmt.Fprintln(&gitCreds, cred.String())
				fmt.Fprintf(&gitConfig, "[credential %q]\n\tusername = %s\n", u.Scheme+"://"+u.Host, user)
			case hasKey:
				host, port := sshHost(c.URL)
				keyFile := "id_" + c.Name
				if err := writeFile(filepath.Join(opts.Home, ".ssh", keyFile), key, 0o600); err != nil {
					return err
				}
				fmt.Fprintf(&sshConfig, "Host %s\n    HostName %s\n    IdentityFile %s\n", host, host, filepath.Join(opts.Home, ".ssh", keyFile))
				if port != "" {
					fmt.Fprintf(&sshConfig, "    Port %s\n", port)
				}
				if kh, ok := readKey(dir, "known_hosts"); ok {
					knownHosts.WriteString(strings.TrimRight(kh, "\n") + "\n")
				} else {
					sshConfig.WriteString("    StrictHostKeyChecking no\n")
				}
			default:
				return fmt.Errorf("secret %s: a git credential needs username/password (basic-auth) or ssh-privatekey (ssh-auth)", c.Name)
			}
		default:
			return fmt.Errorf("secret %s: unknown credential kind %q", c.Name, c.Kind)
		}
	}
	if len(auths) > 0 {
		b, err := json.MarshalIndent(map[string]any{"auths": auths}, "", "  ")
		if err != nil {
			return err
		}
		if err := writeFile(filepath.Join(opts.Home, ".docker", "config.json"), string(b), 0o644); err != nil {
			return err
		}
	}
	if gitCreds.Len() > 0 {
		if err := writeFile(filepath.Join(opts.Home, ".git-credentials"), gitCreds.String(), 0o600); err != nil {
			return err
		}
		cfg := "[credential]\n\thelper = store\n" + gitConfig.String()
		if err := writeFile(filepath.Join(opts.Home, ".gitconfig"), cfg, 0o644); err != nil {
			return err
		}
	}
	if sshConfig.Len() > 0 {
		if err := writeFile(filepath.Join(opts.Home, ".ssh", "config"), sshConfig.String(), 0o600); err != nil {
			return err
		}
		if knownHosts.Len() > 0 {
			if err := writeFile(filepath.Join(opts.Home, ".ssh", "known_hosts"), knownHosts.String(), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// mergeDockerConfig adds the auths of a kubernetes.io/dockerconfigjson (or legacy .dockercfg) Secret.
func mergeDockerConfig(dir string, auths map[string]json.RawMessage) error {
	if s, ok := readKey(dir, ".dockerconfigjson"); ok {
		var cfg struct {
			Auths map[string]json.RawMessage `json:"auths"`
		}
		if err := json.Unmarshal([]byte(s), &cfg); err != nil {
			return fmt.Errorf(".dockerconfigjson: %w", err)
		}
		for k, v := range cfg.Auths {
			auths[k] = v
		}
		return nil
	}
	if s, ok := readKey(dir, ".dockercfg"); ok {
		var cfg map[string]json.RawMessage
		if err := json.Unmarshal([]byte(s), &cfg); err != nil {
			return fmt.Errorf(".dockercfg: %w", err)
		}
		for k, v := range cfg {
			auths[k] = v
		}
		return nil
	}
	return errors.New("a docker credential needs username/password (basic-auth) or .dockerconfigjson")
}

// sshHost extracts host and port from a tekton.dev/git-N value: "github.com", "github.com:22",
// "ssh://git@github.com:2222", "https://github.com".
func sshHost(v string) (host, port string) {
	if i := strings.Index(v, "://"); i >= 0 {
		v = v[i+3:]
	}
	if i := strings.LastIndex(v, "@"); i >= 0 {
		v = v[i+1:]
	}
	if i := strings.IndexByte(v, '/'); i >= 0 {
		v = v[:i]
	}
	if i := strings.LastIndexByte(v, ':'); i >= 0 {
		return v[:i], v[i+1:]
	}
	return v, ""
}

func writeFile(path, content string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}

// ParseCredential parses "KIND:NAME=URL" (the --cred flag of `hookrun step init`).
func ParseCredential(s string) (Credential, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Credential{}, fmt.Errorf("credential %q: want KIND:SECRET=URL", s)
	}
	name, u, ok := strings.Cut(rest, "=")
	if !ok || name == "" || u == "" || (kind != CredDocker && kind != CredGit) {
		return Credential{}, fmt.Errorf("credential %q: want docker:SECRET=URL or git:SECRET=URL", s)
	}
	return Credential{Kind: kind, Name: name, URL: u}, nil
}

// String formats a Credential as ParseCredential reads it.
func (c Credential) String() string { return c.Kind + ":" + c.Name + "=" + c.URL }

// SortCredentials orders credentials deterministically (by kind, then Secret name, then URL).
func SortCredentials(cs []Credential) {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Kind != cs[j].Kind {
			return cs[i].Kind < cs[j].Kind
		}
		if cs[i].Name != cs[j].Name {
			return cs[i].Name < cs[j].Name
		}
		return cs[i].URL < cs[j].URL
	})
}
