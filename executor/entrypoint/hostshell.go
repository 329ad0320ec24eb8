package entrypoint

import (
	"strings"
)

// HostShellEnv is set only by hookrun's node agent, which runs a Pod's containers as host processes
// (node.HostShellEnv names the same variable): the host program standing in for a step image's sh and ash,
// as a space-separated argv ("/usr/bin/busybox sh" or "/usr/bin/bash"). In a real container nobody sets
// it, and the wrapper runs scripts and commands exactly as written.
const HostShellEnv = "HOOKRUN_HOST_SH"

// hostShellArgv is the argv that runs a step on the node agent's host: argv is [script, command...] when
// the step has a script (script is its text), else the command. A script whose interpreter is sh or ash
// (#!/bin/sh, #!/bin/ash, #!/usr/bin/sh, #!/usr/bin/ash, #!/usr/bin/env sh|ash, with an option string
// passed on as the kernel would; or no shebang, which means /bin/sh) and a command whose program is sh or
// ash run with shell instead. Anything else, or an empty shell, is unchanged.
func hostShellArgv(argv []string, script string, shell []string) []string {
	if len(shell) == 0 || len(argv) == 0 {
		return argv
	}
	if script == "" {
		if !isShell(argv[0]) {
			return argv
		}
		return append(append([]string(nil), shell...), argv[1:]...)
	}
	opt, ok := shellShebang(script)
	if !ok {
		return argv
	}
	out := append([]string(nil), shell...)
	if opt != "" {
		out = append(out, opt)
	}
	return append(out, argv...)
}

// shellShebang reports whether a script runs with sh or ash, and the option string of its shebang line.
func shellShebang(script string) (opt string, ok bool) {
	if !strings.HasPrefix(script, "#!") {
		return "", true // the wrapper adds #!/bin/sh
	}
	line, _, _ := strings.Cut(script[2:], "\n")
	line = strings.TrimSpace(line)
	interp, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimSpace(rest)
	if interp == "/usr/bin/env" || interp == "/bin/env" {
		// env runs its one argument: "sh" or "ash" (the kernel passes "sh -e" as one, which env cannot run).
		return "", rest == "sh" || rest == "ash"
	}
	return rest, isShell(interp)
}

// isShell says whether a program is an image's sh or ash, by name or at /bin or /usr/bin.
func isShell(p string) bool {
	switch p {
	case "sh", "ash", "/bin/sh", "/bin/ash", "/usr/bin/sh", "/usr/bin/ash":
		return true
	}
	return false
}
