package entrypoint

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/hookrun/hookrun/executor/mask"
)

// Masked secrets. The executor names what in a step comes from Secrets: environment variables
// (--mask-env, from secretKeyRef) and mounted Secret volumes (--mask-dir); the wrapper adds the registry
// and git credentials prepare wrote under HOME. Their values — and their base64 forms — are replaced by
// "***" in what the step prints, before the kubelet (or node agent) stores it, so every log hookrun
// serves or archives is masked. A stdoutConfig/stderrConfig file gets the step's output unmasked (it is
// the step's own data, such as a result).

// maxMaskedFile bounds what is read from one mounted Secret file.
const maxMaskedFile = 64 << 10

// secretValues gathers the values to mask.
func secretValues(envNames, dirs []string, home string) [][]byte {
	var out [][]byte
	for _, n := range envNames {
		if v := os.Getenv(n); v != "" {
			out = append(out, []byte(v))
		}
	}
	for _, d := range dirs {
		_ = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || strings.HasPrefix(e.Name(), "..") {
				return nil // Secret volumes keep their data in ..data/ behind symlinks: read the links
			}
			if b, err := readBounded(p); err == nil && len(b) > 0 {
				out = append(out, b)
			}
			return nil
		})
	}
	if home != "" {
		out = append(out, dockerSecrets(filepath.Join(home, ".docker", "config.json"))...)
		out = append(out, gitSecrets(filepath.Join(home, ".git-credentials"))...)
	}
	return out
}

func readBounded(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxMaskedFile))
}

// dockerSecrets are the passwords, tokens and auth strings of a docker config.
func dockerSecrets(path string) [][]byte {
	b, err := readBounded(path)
	if err != nil {
		return nil
	}
	var cfg struct {
		Auths map[string]struct {
			Auth, Password, IdentityToken, RegistryToken string
		} `json:"auths"`
	}
	if json.Unmarshal(b, &cfg) != nil {
		return nil
	}
	var out [][]byte
	for _, a := range cfg.Auths {
		for _, v := range []string{a.Auth, a.Password, a.IdentityToken, a.RegistryToken} {
			if v != "" {
				out = append(out, []byte(v))
			}
		}
		if d, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
			if _, pw, ok := strings.Cut(string(d), ":"); ok && pw != "" {
				out = append(out, []byte(pw))
			}
		}
	}
	return out
}

// gitSecrets are the passwords of a git credential store (one URL per line).
func gitSecrets(path string) [][]byte {
	b, err := readBounded(path)
	if err != nil {
		return nil
	}
	var out [][]byte
	for _, line := range strings.Split(string(b), "\n") {
		u, err := url.Parse(strings.TrimSpace(line))
		if err != nil || u.User == nil {
			continue
		}
		if pw, ok := u.User.Password(); ok && pw != "" {
			out = append(out, []byte(pw))
		}
	}
	return out
}

// maskOutputs wraps opts.Stdout and opts.Stderr in masking writers when there is anything to mask, and
// returns the function that flushes them and puts the originals back.
func maskOutputs(opts *RunOptions) (flush func()) {
	forms := mask.Forms(secretValues(opts.MaskEnv, opts.MaskDirs, opts.MaskHome))
	if len(forms) == 0 {
		return func() {}
	}
	stdout, stderr := opts.Stdout, opts.Stderr
	out, errw := mask.NewWriter(stdout, forms), mask.NewWriter(stderr, forms)
	opts.Stdout, opts.Stderr = out, errw
	return func() {
		_ = out.Close()
		_ = errw.Close()
		opts.Stdout, opts.Stderr = stdout, stderr
	}
}
