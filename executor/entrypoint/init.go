package entrypoint

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
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
	// Steps are the TaskRun's step names in order. Each gets its directory under StepsDir (default
	// /tekton/steps) and Tekton's two other names for it: step-NAME and its index (symlinks), which
	// scripts read by hand (e.g. /tekton/steps/0/exitCode).
	Steps    []string
	StepsDir string
	// RunDir, when set (steps as containers), is where each step's own state lives: StepsDir/NAME and its
	// aliases are then symlinks to RunDir/INDEX/status (StatusDir), which the step creates itself.
	RunDir string
}

// Init prepares a TaskRun Pod's shared volumes.
func Init(opts InitOptions) error {
	for _, d := range opts.Dirs {
		if err := os.MkdirAll(d, 0o777); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
		_ = os.Chmod(d, 0o777)
	}
	if err := linkStepDirs(opts.StepsDir, opts.RunDir, opts.Steps); err != nil {
		return err
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
	f := credFiles{home: opts.Home, auths: map[string]json.RawMessage{}}
	for _, c := range opts.Credentials {
		dir := filepath.Join(opts.SecretsDir, c.Name)
		var err error
		switch c.Kind {
		case CredDocker:
			err = f.addDocker(c, dir)
		case CredGit:
			err = f.addGit(c, dir)
		default:
			err = fmt.Errorf("secret %s: unknown credential kind %q", c.Name, c.Kind)
		}
		if err != nil {
			return err
		}
	}
	return f.write()
}

// credFiles collects the credential files of a Pod's Secrets before they are written under home.
type credFiles struct {
	home                                       string
	auths                                      map[string]json.RawMessage
	gitCreds, gitConfig, sshConfig, knownHosts strings.Builder
}

// addDocker adds a docker credential: basic-auth keys, or a dockerconfigjson/dockercfg Secret's auths.
func (f *credFiles) addDocker(c Credential, dir string) error {
	user, hasUser := readKey(dir, "username")
	if !hasUser {
		if err := mergeDockerConfig(dir, f.auths); err != nil {
			return fmt.Errorf("secret %s: %w", c.Name, err)
		}
		return nil
	}
	pass, _ := readKey(dir, "password")
	a := dockerAuth{Username: user, Password: pass, Auth: base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}
	b, _ := json.Marshal(a)
	f.auths[c.URL] = b
	return nil
}

// addGit adds a git credential: basic-auth keys to .git-credentials, or an ssh key to .ssh.
func (f *credFiles) addGit(c Credential, dir string) error {
	user, hasUser := readKey(dir, "username")
	pass, _ := readKey(dir, "password")
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
		fmt.Fprintln(&f.gitCreds, cred.String())
		fmt.Fprintf(&f.gitConfig, "[credential %q]\n\tusername = %s\n", u.Scheme+"://"+u.Host, user)
		return nil
	case hasKey:
		return f.addSSH(c, dir, key)
	default:
		return fmt.Errorf("secret %s: a git credential needs username/password (basic-auth) or ssh-privatekey (ssh-auth)", c.Name)
	}
}

// addSSH writes an ssh-auth Secret's key and adds its host to .ssh/config (and known_hosts, if given).
func (f *credFiles) addSSH(c Credential, dir, key string) error {
	host, port := sshHost(c.URL)
	keyFile := filepath.Join(f.home, ".ssh", "id_"+c.Name)
	if err := writeFile(keyFile, key, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(&f.sshConfig, "Host %s\n    HostName %s\n    IdentityFile %s\n", host, host, keyFile)
	if port != "" {
		fmt.Fprintf(&f.sshConfig, "    Port %s\n", port)
	}
	if kh, ok := readKey(dir, "known_hosts"); ok {
		f.knownHosts.WriteString(strings.TrimRight(kh, "\n") + "\n")
	} else {
		f.sshConfig.WriteString("    StrictHostKeyChecking no\n")
	}
	return nil
}

// write writes the files collected: docker config.json, .git-credentials and .gitconfig, .ssh/config and
// known_hosts, each only when it has content.
func (f *credFiles) write() error {
	var files []struct {
		path, text string
		mode       os.FileMode
	}
	add := func(path, text string, mode os.FileMode) {
		files = append(files, struct {
			path, text string
			mode       os.FileMode
		}{filepath.Join(f.home, path), text, mode})
	}
	if len(f.auths) > 0 {
		b, err := json.MarshalIndent(map[string]any{"auths": f.auths}, "", "  ")
		if err != nil {
			return err
		}
		add(filepath.Join(".docker", "config.json"), string(b), 0o644)
	}
	if f.gitCreds.Len() > 0 {
		add(".git-credentials", f.gitCreds.String(), 0o600)
		add(".gitconfig", "[credential]\n\thelper = store\n"+f.gitConfig.String(), 0o644)
	}
	if f.sshConfig.Len() > 0 {
		add(filepath.Join(".ssh", "config"), f.sshConfig.String(), 0o600)
	}
	if f.knownHosts.Len() > 0 {
		add(filepath.Join(".ssh", "known_hosts"), f.knownHosts.String(), 0o644)
	}
	for _, file := range files {
		if err := writeFile(file.path, file.text, file.mode); err != nil {
			return err
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

// linkStepDirs gives each step its directory under dir (default StepsDir) and the aliases step-NAME and
// INDEX. Without runDir the directory is dir/NAME and the aliases link to it; with runDir all three link to
// the step's StatusDir in runDir. An alias that already exists (a step named like another's alias, or a
// prepare run twice) is left as it is.
func linkStepDirs(dir, runDir string, steps []string) error {
	if dir == "" {
		dir = StepsDir
	}
	for i, name := range steps {
		target := name
		names := []string{"step-" + name, strconv.Itoa(i)}
		if runDir != "" {
			target = StatusDir(RecordPath(runDir, i))
			names = append([]string{name}, names...)
		} else {
			if err := os.MkdirAll(filepath.Join(dir, name), 0o777); err != nil {
				return fmt.Errorf("create step directory: %w", err)
			}
			_ = os.Chmod(filepath.Join(dir, name), 0o777)
		}
		for _, alias := range names {
			err := os.Symlink(target, filepath.Join(dir, alias))
			if err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("link step directory %s: %w", alias, err)
			}
		}
	}
	return nil
}
