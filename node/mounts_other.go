//go:build !linux

package node

import (
	"fmt"
	"os"
	"syscall"
)

// namespaceSupported reports whether this platform has mount namespaces.
const namespaceSupported = false

// ExecInMountsCommand is the hidden subcommand (after "node") that runs the mount helper.
const ExecInMountsCommand = "exec-in-mounts"

func sysProcAttr(bool) *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// ExecInMounts needs Linux mount namespaces; elsewhere it always fails.
func ExecInMounts([]string) int {
	fmt.Fprintln(os.Stderr, "exec-in-mounts: mount namespaces need Linux")
	return startErrorExitCode
}
