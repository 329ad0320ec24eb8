package entrypoint

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

func TestHostShellArgv(t *testing.T) {
	bb := []string{"/bin/busybox", "sh"}
	for _, tc := range []struct {
		name   string
		argv   []string
		script string
		shell  []string
		want   string
	}{
		{"no host shell: unchanged", []string{"/s/x", "a"}, "#!/bin/sh\n", nil, "/s/x a"},
		{"no shebang (the wrapper's /bin/sh)", []string{"/s/x", "a"}, "echo hi\n", bb, "/bin/busybox sh /s/x a"},
		{"#!/bin/sh", []string{"/s/x"}, "#!/bin/sh\necho\n", bb, "/bin/busybox sh /s/x"},
		{"#!/bin/ash with options", []string{"/s/x"}, "#!/bin/ash -ex\n", bb, "/bin/busybox sh -ex /s/x"},
		{"#!/usr/bin/sh", []string{"/s/x"}, "#!/usr/bin/sh\n", []string{"/usr/bin/bash"}, "/usr/bin/bash /s/x"},
		{"#!/usr/bin/env ash", []string{"/s/x"}, "#!/usr/bin/env ash\n", bb, "/bin/busybox sh /s/x"},
		{"#!/usr/bin/env sh, extra blanks", []string{"/s/x"}, "#!/usr/bin/env  sh \n", bb, "/bin/busybox sh /s/x"},
		{"#!/usr/bin/env sh -e: env cannot run it either", []string{"/s/x"}, "#!/usr/bin/env sh -e\n", bb, "/s/x"},
		{"#!/bin/env sh", []string{"/s/x"}, "#!/bin/env sh\n", bb, "/bin/busybox sh /s/x"},
		{"#!/usr/bin/env bash: as written", []string{"/s/x"}, "#!/usr/bin/env bash\n", bb, "/s/x"},
		{"#!/bin/bash: as written", []string{"/s/x"}, "#!/bin/bash\n", bb, "/s/x"},
		{"#!/usr/bin/env python3: as written", []string{"/s/x"}, "#!/usr/bin/env python3\n", bb, "/s/x"},
		{"command sh -c", []string{"sh", "-c", "[ a == a ]"}, "", bb, "/bin/busybox sh -c [ a == a ]"},
		{"command /bin/ash", []string{"/bin/ash", "x"}, "", []string{"/usr/bin/bash"}, "/usr/bin/bash x"},
		{"command bash: as written", []string{"bash", "-c", "x"}, "", bb, "bash -c x"},
		{"command shell-like name: as written", []string{"/opt/sh", "x"}, "", bb, "/opt/sh x"},
	} {
		got := strings.Join(hostShellArgv(tc.argv, tc.script, tc.shell), " ")
		if got != tc.want {
			t.Errorf("%s: %q", tc.name, got)
			t.Errorf("%s: want %q", tc.name, tc.want)
		}
	}
}

// On the node agent's host (HOOKRUN_HOST_SH set), sh and ash scripts run as in alpine or busybox images:
// `[ a == b ]` (which Debian's dash refuses) and #!/usr/bin/env ash (no ash on the host) work. Each host
// shell this machine has is tried (bash is always there; busybox when installed).
func TestRunWithHostShell(t *testing.T) {
	var shells [][]string
	if p, err := exec.LookPath("bash"); err == nil {
		shells = append(shells, []string{p})
	}
	if p, err := exec.LookPath("busybox"); err == nil {
		shells = append(shells, []string{p, "sh"})
	}
	if len(shells) == 0 {
		t.Fatal("neither bash nor busybox on PATH: the node agent's host shell cannot be tested")
	}
	for _, sh := range shells {
		for _, script := range []string{
			"[ a == a ] && echo ok\n",
			"#!/bin/sh\n[ a == a ] && echo ok\n",
			"#!/usr/bin/env ash\n[[ a == a ]] && echo ok\n",
			"#!/usr/bin/env sh\nset -e\n[ a == a ] && echo ok\n",
		} {
			t.Setenv(HostShellEnv, strings.Join(sh, " "))
			d := newDirs(t)
			var out, errOut bytes.Buffer
			o := d.opts(RunOptions{Name: "s", Script: script})
			o.Stdout, o.Stderr = &out, &errOut
			code, err := Run(context.Background(), o)
			if code != 0 || err != nil || out.String() != "ok\n" {
				t.Errorf("%s, script %q: exit %d, err %v, stdout %q, stderr %q", sh, script, code, err, out.String(), errOut.String())
			}
		}
	}
}
