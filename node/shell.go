package node

import (
	"strings"
)

// HostShellEnv is the variable the agent sets in every container it runs: the host program that stands in
// for a step image's sh and ash, as a space-separated argv ("/usr/bin/busybox sh" or "/usr/bin/bash").
// hookrun's step wrapper reads it to run sh and ash scripts and commands with it (executor/entrypoint
// names the same variable). It exists only here: in a real container nobody sets it and nothing changes.
const HostShellEnv = "HOOKRUN_HOST_SH"

// defaultShell picks the host program for an image's sh and ash. The images steps name (alpine, busybox,
// bash, ubuntu's bash scripts) give busybox ash or bash as sh, where Debian's /bin/sh is dash (it rejects
// `[ a == b ]`) and the host has no ash: busybox's sh when a busybox is on the host, else bash, else nil
// (the host's /bin/sh as is). look is exec.LookPath in the agent.
func defaultShell(look func(string) (string, error)) []string {
	if p, err := look("busybox"); err == nil {
		return []string{p, "sh"}
	}
	if p, err := look("bash"); err == nil {
		return []string{p}
	}
	return nil
}

// isShellProgram says whether a command's program is an image's sh or ash (by name or at /bin, /usr/bin).
func isShellProgram(p string) bool {
	switch p {
	case "sh", "ash", "/bin/sh", "/bin/ash", "/usr/bin/sh", "/usr/bin/ash":
		return true
	}
	return false
}

// shellArgv replaces a command's sh or ash program with the host shell (nil: unchanged).
func shellArgv(argv, shell []string) []string {
	if len(shell) == 0 || len(argv) == 0 || !isShellProgram(argv[0]) {
		return argv
	}
	return append(append([]string(nil), shell...), argv[1:]...)
}

// shellName is how the log names the host shell.
func shellName(shell []string) string {
	if len(shell) == 0 {
		return "the host's /bin/sh"
	}
	return strings.Join(shell, " ")
}
