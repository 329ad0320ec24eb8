package entrypoint

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMaskedOutput: a step that prints a Secret from its environment, from a mounted Secret file, from the
// docker and git credentials, their base64, and a secret split across two writes, shows *** in its log
// for every one of them, and the rest unchanged.
func TestMaskedOutput(t *testing.T) {
	root := t.TempDir()
	const envSecret, fileSecret, dockerPW, gitPW = "tok-3n4v-s3cret", "f1le-s3cret-value", "d0cker-pa55", "g1t-pa55word"
	t.Setenv("API_TOKEN", envSecret)
	secretDir := filepath.Join(root, "secret-vol")
	if err := os.MkdirAll(filepath.Join(secretDir, "..data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secretDir, "..data", "key"), []byte(fileSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", "key"), filepath.Join(secretDir, "key")); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(root, "home")
	if err := os.MkdirAll(filepath.Join(home, ".docker"), 0o700); err != nil {
		t.Fatal(err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte("bob:" + dockerPW))
	if err := os.WriteFile(filepath.Join(home, ".docker", "config.json"), []byte(`{"auths":{"ghcr.io":{"auth":"`+auth+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".git-credentials"), []byte("https://bob:"+gitPW+"@github.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	script := `echo "env $API_TOKEN"
printf 'b64 %s\n' "$(printf %s "$API_TOKEN" | base64)"
printf 'split tok-3n4'; sleep 0.2; printf 'v-s3cret done\n'
echo "file $(cat ` + filepath.Join(secretDir, "key") + `)" >&2
echo "docker ` + dockerPW + ` auth ` + auth + `"
echo "git ` + gitPW + `"
echo "plain text stays"
`
	var stdout, stderr bytes.Buffer
	o := RunOptions{Name: "leak", Command: []string{"sh", "-c", script},
		MaskEnv: []string{"API_TOKEN"}, MaskDirs: []string{secretDir}, MaskHome: home,
		ResultsDir: filepath.Join(root, "results"), StepsDir: filepath.Join(root, "steps"), ScriptsDir: filepath.Join(root, "scripts"),
		TerminationPath: filepath.Join(root, "termination"), Stdout: &stdout, Stderr: &stderr}
	if code, err := Run(context.Background(), o); code != 0 || err != nil {
		t.Fatalf("exit %d: %v\n%s", code, err, stderr.String())
	}
	got := stdout.String() + stderr.String()
	for _, secret := range []string{envSecret, fileSecret, dockerPW, gitPW, auth, base64.StdEncoding.EncodeToString([]byte(envSecret))} {
		if strings.Contains(got, secret) {
			t.Errorf("%q leaked:\n%s", secret, got)
		}
	}
	for _, want := range []string{"env ***\n", "b64 ***\n", "split *** done\n", "file ***\n", "docker *** auth ***\n", "git ***\n", "plain text stays\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
