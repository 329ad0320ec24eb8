package entrypoint

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookrun/hookrun/executor/entrypoint/celwhen"
)

type dirs struct{ results, steps, scripts, term string }

func newDirs(t *testing.T) dirs {
	t.Helper()
	root := t.TempDir()
	d := dirs{
		results: filepath.Join(root, "results"),
		steps:   filepath.Join(root, "steps"),
		scripts: filepath.Join(root, "scripts"),
		term:    filepath.Join(root, "termination"),
	}
	for _, p := range []string{d.results, d.steps, d.scripts} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func (d dirs) opts(o RunOptions) RunOptions {
	o.ResultsDir, o.StepsDir, o.ScriptsDir, o.TerminationPath = d.results, d.steps, d.scripts, d.term
	if o.CEL == nil {
		o.CEL = celwhen.Eval
	}
	return o
}

func readMessage(t *testing.T, path string) Message {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("termination message: %v", err)
	}
	m, ok := ParseMessage(string(b))
	if !ok {
		t.Fatalf("termination message %q is not a Message", b)
	}
	return m
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       RunOptions
		wantExit   int
		wantMsg    Message
		wantStdout string
		maxTime    time.Duration
	}{
		{
			name:       "command succeeds",
			opts:       RunOptions{Name: "a", Command: []string{"sh", "-c", "echo hi"}},
			wantMsg:    Message{ExitCode: 0},
			wantStdout: "hi\n",
		},
		{
			name:     "command fails",
			opts:     RunOptions{Name: "a", Command: []string{"sh", "-c", "exit 3"}},
			wantExit: 3,
			wantMsg:  Message{ExitCode: 3},
		},
		{
			name:    "onError continue exits 0 and records the code",
			opts:    RunOptions{Name: "a", Continue: true, Command: []string{"sh", "-c", "exit 4"}},
			wantMsg: Message{ExitCode: 4},
		},
		{
			name: "timeout kills the whole process group",
			// The background sleep holds stdout open: only killing the group ends it.
			opts:     RunOptions{Name: "slow", Timeout: 300 * time.Millisecond, Command: []string{"sh", "-c", "sleep 30 & sleep 30"}},
			wantExit: 1,
			wantMsg:  Message{ExitCode: 1, Reason: ReasonTimeout, Message: `step "slow" timed out after 300ms`},
			maxTime:  5 * time.Second,
		},
		{
			name:    "timeout with onError continue",
			opts:    RunOptions{Name: "slow", Continue: true, Timeout: 200 * time.Millisecond, Command: []string{"sleep", "30"}},
			wantMsg: Message{ExitCode: 1, Reason: ReasonTimeout, Message: `step "slow" timed out after 200ms`},
			maxTime: 5 * time.Second,
		},
		{
			name:       "script without shebang runs under sh with set -e",
			opts:       RunOptions{Name: "s", Script: "echo one\nfalse\necho never\n"},
			wantExit:   1,
			wantMsg:    Message{ExitCode: 1},
			wantStdout: "one\n",
		},
		{
			name:       "script with shebang runs as written",
			opts:       RunOptions{Name: "s", Script: "#!/bin/sh\necho $0 \"$1\"\nfalse\necho still\n", Command: []string{"arg1"}},
			wantMsg:    Message{ExitCode: 0},
			wantStdout: "SCRIPT arg1\nstill\n",
		},
		{
			name:     "missing command",
			opts:     RunOptions{Name: "m", Command: []string{"/no/such/binary"}},
			wantExit: 127,
			wantMsg:  Message{ExitCode: 127, Reason: ReasonStartFailed},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDirs(t)
			var out bytes.Buffer
			o := d.opts(tc.opts)
			o.Stdout, o.Stderr = &out, &bytes.Buffer{}
			start := time.Now()
			code, _ := Run(context.Background(), o)
			if tc.maxTime > 0 && time.Since(start) > tc.maxTime {
				t.Errorf("took %s", time.Since(start))
			}
			if code != tc.wantExit {
				t.Errorf("exit = %d, want %d", code, tc.wantExit)
			}
			m := readMessage(t, d.term)
			if tc.wantMsg.Reason == ReasonStartFailed {
				m.Message = ""
			}
			if m.ExitCode != tc.wantMsg.ExitCode || m.Reason != tc.wantMsg.Reason || m.Message != tc.wantMsg.Message {
				t.Errorf("message = %+v, want %+v", m, tc.wantMsg)
			}
			want := strings.ReplaceAll(tc.wantStdout, "SCRIPT", filepath.Join(d.scripts, tc.opts.Name))
			if tc.wantStdout != "" && out.String() != want {
				t.Errorf("stdout = %q, want %q", out.String(), want)
			}
			if b, _ := os.ReadFile(filepath.Join(d.steps, tc.opts.Name, "exitCode")); string(b) != itoa(tc.wantMsg.ExitCode) {
				t.Errorf("exitCode file = %q", b)
			}
		})
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestRunResults(t *testing.T) {
	d := newDirs(t)
	o := d.opts(RunOptions{
		Name:    "w",
		Results: []string{"digest", "url", "absent"},
		Script:  "printf sha256:abc > " + d.results + "/digest\nprintf reg/x > " + d.results + "/url\n",
	})
	o.Stdout, o.Stderr = &bytes.Buffer{}, &bytes.Buffer{}
	if code, err := Run(context.Background(), o); code != 0 || err != nil {
		t.Fatalf("Run = %d, %v", code, err)
	}
	m := readMessage(t, d.term)
	if m.Results["digest"] != "sha256:abc" || m.Results["url"] != "reg/x" || len(m.Results) != 2 {
		t.Fatalf("results = %v", m.Results)
	}

	// A later step reports only what changed; the results container reports only what nobody reported.
	o2 := d.opts(RunOptions{Name: "w2", Results: []string{"digest", "url"}, Script: "printf reg/y > " + d.results + "/url\n"})
	o2.TerminationPath = filepath.Join(t.TempDir(), "t2")
	o2.Stdout, o2.Stderr = &bytes.Buffer{}, &bytes.Buffer{}
	if code, _ := Run(context.Background(), o2); code != 0 {
		t.Fatal(code)
	}
	if m := readMessage(t, o2.TerminationPath); len(m.Results) != 1 || m.Results["url"] != "reg/y" {
		t.Fatalf("second step results = %v", m.Results)
	}
	if err := os.WriteFile(filepath.Join(d.results, "IMAGE_DIGEST"), []byte("sha256:kaniko"), 0o644); err != nil {
		t.Fatal(err)
	}
	rt := filepath.Join(t.TempDir(), "t3")
	if err := Results(ResultsOptions{Dir: d.results, StepsDir: d.steps, TerminationPath: rt}); err != nil {
		t.Fatal(err)
	}
	if m := readMessage(t, rt); len(m.Results) != 1 || m.Results["IMAGE_DIGEST"] != "sha256:kaniko" {
		t.Fatalf("results container = %+v", m)
	}
}

func TestRunResultTooLarge(t *testing.T) {
	d := newDirs(t)
	o := d.opts(RunOptions{Name: "big", Results: []string{"big"}, Script: "head -c 5000 /dev/zero | tr '\\0' x > " + d.results + "/big\n"})
	o.Stdout, o.Stderr = &bytes.Buffer{}, &bytes.Buffer{}
	code, _ := Run(context.Background(), o)
	m := readMessage(t, d.term)
	if code != 1 || m.Reason != ReasonResultTooLarge || !strings.Contains(m.Message, `result "big" is 5000 bytes, the limit is 4096`) {
		t.Fatalf("code %d message %+v", code, m)
	}
}

func TestResultsOverflowGoesToResultsContainer(t *testing.T) {
	d := newDirs(t)
	var script strings.Builder
	for _, n := range []string{"a", "b"} {
		script.WriteString("head -c 3000 /dev/zero | tr '\\0' " + n + " > " + d.results + "/" + n + "\n")
	}
	o := d.opts(RunOptions{Name: "two", Results: []string{"a", "b"}, Script: script.String()})
	o.Stdout, o.Stderr = &bytes.Buffer{}, &bytes.Buffer{}
	if code, _ := Run(context.Background(), o); code != 0 {
		t.Fatal(code)
	}
	first := readMessage(t, d.term)
	if len(first.Results) != 1 {
		t.Fatalf("step reported %d results, want the one that fits", len(first.Results))
	}
	rt := filepath.Join(t.TempDir(), "t")
	if err := Results(ResultsOptions{Dir: d.results, StepsDir: d.steps, TerminationPath: rt}); err != nil {
		t.Fatal(err)
	}
	second := readMessage(t, rt)
	if len(second.Results) != 1 {
		t.Fatalf("results container reported %v", second.Results)
	}
	for k := range first.Results {
		if _, dup := second.Results[k]; dup {
			t.Fatalf("%s reported twice", k)
		}
	}
}

func TestInit(t *testing.T) {
	root := t.TempDir()
	secrets := filepath.Join(root, "secrets")
	write := func(secret, key, val string) {
		t.Helper()
		p := filepath.Join(secrets, secret, key)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(val), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("harbor", "username", "admin")
	write("harbor", "password", "Harbor12345")
	write("hub", ".dockerconfigjson", `{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"}}}`)
	write("gh", "username", "bot")
	write("gh", "password", "tok")
	write("ssh", "ssh-privatekey", "KEY")
	home := filepath.Join(root, "home")
	self := filepath.Join(root, "self")
	if err := os.WriteFile(self, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := Init(InitOptions{
		CopySelf:   filepath.Join(root, "bin", "hookrun"),
		Dirs:       []string{filepath.Join(root, "results"), filepath.Join(root, "steps")},
		Home:       home,
		SecretsDir: secrets,
		Self:       func() (string, error) { return self, nil },
		Credentials: []Credential{
			{Kind: CredDocker, Name: "harbor", URL: "harbor.k8s.local"},
			{Kind: CredDocker, Name: "hub", URL: "https://index.docker.io/v1/"},
			{Kind: CredGit, Name: "gh", URL: "https://github.com"},
			{Kind: CredGit, Name: "ssh", URL: "git@codeup.aliyun.com:2222"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(root, "bin", "hookrun")); err != nil || st.Mode().Perm() != 0o755 {
		t.Fatalf("copied binary: %v %v", st, err)
	}
	for _, d := range []string{"results", "steps"} {
		if st, err := os.Stat(filepath.Join(root, d)); err != nil || !st.IsDir() {
			t.Fatalf("%s: %v", d, err)
		}
	}
	var cfg struct {
		Auths map[string]map[string]string `json:"auths"`
	}
	b, err := os.ReadFile(filepath.Join(home, ".docker", "config.json"))
	if err != nil || json.Unmarshal(b, &cfg) != nil {
		t.Fatalf("config.json: %s %v", b, err)
	}
	if got := cfg.Auths["harbor.k8s.local"]["auth"]; got != base64.StdEncoding.EncodeToString([]byte("admin:Harbor12345")) {
		t.Errorf("harbor auth = %q", got)
	}
	if got := cfg.Auths["https://index.docker.io/v1/"]["auth"]; got != "dTpw" {
		t.Errorf("hub auth = %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(home, ".git-credentials")); string(b) != "https://bot:tok@github.com\n" {
		t.Errorf(".git-credentials = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(home, ".gitconfig")); !strings.Contains(string(b), "helper = store") {
		t.Errorf(".gitconfig = %q", b)
	}
	b, _ = os.ReadFile(filepath.Join(home, ".ssh", "config"))
	if want := "Host codeup.aliyun.com\n    HostName codeup.aliyun.com\n    IdentityFile " + filepath.Join(home, ".ssh", "id_ssh") +
		"\n    Port 2222\n    StrictHostKeyChecking no\n"; string(b) != want {
		t.Errorf("ssh config = %q, want %q", b, want)
	}
	if st, err := os.Stat(filepath.Join(home, ".ssh", "id_ssh")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("ssh key: %v %v", st, err)
	}
}

func TestParseCredential(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Credential
		ok   bool
	}{
		{"docker:reg=https://index.docker.io/v1/", Credential{CredDocker, "reg", "https://index.docker.io/v1/"}, true},
		{"git:k=git@github.com", Credential{CredGit, "k", "git@github.com"}, true},
		{"svn:k=x", Credential{}, false},
		{"docker:k", Credential{}, false},
	} {
		got, err := ParseCredential(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseCredential(%q) = %+v, %v", tc.in, got, err)
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("String() = %q", got.String())
		}
	}
}

// TestInitStepAliases: a step's exit code is readable at Tekton's three paths, /tekton/steps/NAME,
// /tekton/steps/step-NAME and /tekton/steps/INDEX (scripts read them by hand, e.g. Tekton's
// ignore-step-error example).
func TestInitStepAliases(t *testing.T) {
	steps := filepath.Join(t.TempDir(), "steps")
	if err := Init(InitOptions{Dirs: []string{steps}, StepsDir: steps, Steps: []string{"exit-with-1", "unnamed-1", "step-x"}}); err != nil {
		t.Fatal(err)
	}
	writeExitCode(steps, "exit-with-1", 1)
	writeExitCode(steps, "step-x", 3)
	for _, tc := range []struct{ path, want string }{
		{"exit-with-1/exitCode", "1"},
		{"step-exit-with-1/exitCode", "1"},
		{"0/exitCode", "1"},
		{"step-step-x/exitCode", "3"},
		{"2/exitCode", "3"},
	} {
		b, err := os.ReadFile(filepath.Join(steps, tc.path))
		if err != nil || string(b) != tc.want {
			t.Errorf("%s = %q, %v; want %q", tc.path, b, err, tc.want)
		}
	}
	if st, err := os.Stat(filepath.Join(steps, "1")); err != nil || !st.IsDir() {
		t.Errorf("index 1 of an unnamed step: %v", err)
	}
	// A second prepare (the node agent restarting it) leaves the aliases as they are.
	if err := Init(InitOptions{StepsDir: steps, Steps: []string{"exit-with-1"}}); err != nil {
		t.Errorf("second Init: %v", err)
	}
}

// TestInitStepAliasesInRunDir: with steps as containers, /tekton/steps/NAME, step-NAME and INDEX link to
// the step's own run directory, which the wrapper creates; its exit code is read through all three.
func TestInitStepAliasesInRunDir(t *testing.T) {
	root := t.TempDir()
	steps, run := filepath.Join(root, "steps"), filepath.Join(root, "run")
	if err := Init(InitOptions{Dirs: []string{steps}, StepsDir: steps, RunDir: run, Steps: []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	code, err := Run(context.Background(), RunOptions{Name: "a", Command: []string{"/bin/sh", "-c", "exit 4"}, Continue: true,
		PostFile: RecordPath(run, 0), StepsDir: steps, ResultsDir: filepath.Join(root, "results"), ScriptsDir: filepath.Join(root, "scripts"),
		TerminationPath: filepath.Join(root, "term"), Stdout: io.Discard, Stderr: io.Discard})
	if err != nil || code != 0 {
		t.Fatalf("run: %d %v", code, err)
	}
	for _, p := range []string{"a/exitCode", "step-a/exitCode", "0/exitCode", "../run/0/status/exitCode"} {
		if b, err := os.ReadFile(filepath.Join(steps, p)); err != nil || string(b) != "4" {
			t.Errorf("%s = %q, %v; want 4", p, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(steps, "1", "exitCode")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("step b has not run, yet its exit code: %v", err)
	}
}
