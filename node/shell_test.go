package node

import (
	"errors"
	"strings"
	"testing"
)

func TestDefaultShell(t *testing.T) {
	for _, tc := range []struct {
		name string
		have map[string]string
		want string
	}{
		{"busybox first", map[string]string{"busybox": "/bin/busybox", "bash": "/usr/bin/bash"}, "/bin/busybox sh"},
		{"bash without busybox", map[string]string{"bash": "/usr/bin/bash"}, "/usr/bin/bash"},
		{"neither: the host's /bin/sh", map[string]string{}, ""},
	} {
		look := func(name string) (string, error) {
			if p, ok := tc.have[name]; ok {
				return p, nil
			}
			return "", errors.New("not found")
		}
		if got := strings.Join(defaultShell(look), " "); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestShellArgv(t *testing.T) {
	bb := []string{"/bin/busybox", "sh"}
	for _, tc := range []struct {
		argv, shell []string
		want        string
	}{
		{[]string{"sh", "-c", "x"}, bb, "/bin/busybox sh -c x"},
		{[]string{"/bin/ash", "-c", "x"}, []string{"/usr/bin/bash"}, "/usr/bin/bash -c x"},
		{[]string{"/usr/bin/sh"}, bb, "/bin/busybox sh"},
		{[]string{"bash", "-c", "x"}, bb, "bash -c x"},
		{[]string{"sh", "-c", "x"}, nil, "sh -c x"},
		{[]string{"/tmp/sh"}, bb, "/tmp/sh"},
		{nil, bb, ""},
	} {
		if got := strings.Join(shellArgv(tc.argv, tc.shell), " "); got != tc.want {
			t.Errorf("shellArgv(%q, %q) = %q, want %q", tc.argv, tc.shell, got, tc.want)
		}
	}
}
