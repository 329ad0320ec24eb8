//go:build linux

package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// namespaceSupported reports whether this platform has mount namespaces.
const namespaceSupported = true

// sysProcAttr returns the attributes of a container process: its own process group, killed if the agent's
// thread dies, and in MountNamespace mode a new mount namespace. When the agent is not root, the mount
// namespace sits in a new user namespace in which the agent's user is root (like `unshare -r -m`), so that
// mounting works without privileges where unprivileged user namespaces are allowed.
func sysProcAttr(newMountNS bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if newMountNS {
		// Go makes the new namespace's mounts private (MS_REC|MS_PRIVATE on /) before exec.
		a.Unshareflags = syscall.CLONE_NEWNS
		if uid := os.Geteuid(); uid != 0 {
			a.Cloneflags = syscall.CLONE_NEWUSER
			a.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
			a.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
			a.GidMappingsEnableSetgroups = false
		}
	}
	return a
}

// ExecInMountsCommand is the hidden subcommand (after "node") that runs the mount helper.
const ExecInMountsCommand = "exec-in-mounts"

// ExecInMounts is the helper behind `hookrun node exec-in-mounts SPEC` (and `--probe ROOT`). The agent starts
// it in a fresh mount namespace; it builds the container's root (a tmpfs mirroring the host's top-level
// entries with recursive bind mounts, plus the volumes bind-mounted at their mountPaths), chroots into it
// and execs the container's command. It only returns on failure, with the process exit code.
func ExecInMounts(args []string) int {
	if len(args) == 2 && args[0] == "--probe" {
		if err := probeMounts(args[1]); err != nil {
			fmt.Fprintln(os.Stderr, "exec-in-mounts probe:", err)
			return 1
		}
		return 0
	}
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: hookrun node exec-in-mounts SPEC (internal, used by the node agent)")
		return 2
	}
	spec, err := readSpec(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "exec-in-mounts:", err)
		return startErrorExitCode
	}
	err = execInMounts(spec)
	// execInMounts only returns on failure.
	fmt.Fprintln(os.Stderr, err)
	if spec.ErrFile != "" {
		_ = os.WriteFile(spec.ErrFile, []byte(err.Error()), 0o600)
	}
	return startErrorExitCode
}

func probeMounts(root string) error {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if err := syscall.Mount("tmpfs", root, "tmpfs", 0, "mode=755"); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", root, err)
	}
	return nil
}

// mountKind says what a path of the container's view is backed by.
type mountKind int

const (
	kindOwned  mountKind = iota // our tmpfs: creating entries is harmless
	kindHost                    // a bind of the same host path: creating entries would touch the host
	kindVolume                  // a volume: entries are created in the volume, as runc does
)

// rootBuilder assembles a container root under dir.
type rootBuilder struct {
	dir   string               // host path of the root
	kinds map[string]mountKind // container path → what is mounted there
}

func execInMounts(spec *execSpec) error {
	if spec.Root == "" {
		return errors.New("exec-in-mounts: spec has no root")
	}
	if err := probeMounts(spec.Root); err != nil {
		return fmt.Errorf("exec-in-mounts: %w", err)
	}
	rb := &rootBuilder{dir: spec.Root, kinds: map[string]mountKind{"/": kindOwned}}
	if err := rb.mirror("/"); err != nil {
		return fmt.Errorf("exec-in-mounts: build root: %w", err)
	}
	// The recursive bind of the top-level directory holding Root also carries the root itself; detach that
	// copy so the container does not see its own root below the state directory.
	_ = syscall.Unmount(filepath.Join(spec.Root, spec.Root), syscall.MNT_DETACH)

	for _, m := range spec.Mounts {
		if err := rb.bind(m); err != nil {
			return fmt.Errorf("mount %s at %s: %w", m.Source, m.Target, err)
		}
	}
	if err := syscall.Chroot(spec.Root); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	dir := spec.Dir
	if dir == "" {
		dir = "/"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	if err := os.Chdir(dir); err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	argv0, err := lookPath(spec.Argv[0], envValue(spec.Env, "PATH"))
	if err != nil {
		return err
	}
	if err := syscall.Exec(argv0, spec.Argv, spec.Env); err != nil {
		return fmt.Errorf("exec %s: %w", argv0, err)
	}
	return nil
}

// kindOf returns the kind of the deepest recorded mount at or above p.
func (rb *rootBuilder) kindOf(p string) mountKind {
	for {
		if k, ok := rb.kinds[p]; ok {
			return k
		}
		if p == "/" {
			return kindOwned
		}
		p = filepath.Dir(p)
	}
}

// mirror replaces the container directory p (a host-backed path) with a tmpfs holding bind mounts of each
// of the host directory's entries, so that new entries can be created in p without touching the host.
func (rb *rootBuilder) mirror(p string) error {
	entries, err := os.ReadDir(p)
	if err != nil {
		return err
	}
	target := filepath.Join(rb.dir, p)
	if p != "/" {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if err := syscall.Mount("tmpfs", target, "tmpfs", 0, fmt.Sprintf("mode=%o", fi.Mode().Perm())); err != nil {
			return fmt.Errorf("mount tmpfs on %s: %w", p, err)
		}
		rb.kinds[p] = kindOwned
	}
	for _, e := range entries {
		src := filepath.Join(p, e.Name())
		dst := filepath.Join(target, e.Name())
		if src == rb.dir {
			continue
		}
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(src)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, dst); err != nil {
				return err
			}
			continue
		case e.IsDir():
			if err := os.Mkdir(dst, 0o755); err != nil {
				return err
			}
		default:
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			f.Close()
		}
		if err := syscall.Mount(src, dst, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s: %w", src, err)
		}
		rb.kinds[src] = kindHost
	}
	return nil
}

// resolve follows symlinks in the container path p within the container's root, creating missing
// directories (file for the last element when !dir) without touching the host.
func (rb *rootBuilder) ensure(p string, dir bool) (string, error) {
	parts := strings.Split(strings.TrimPrefix(filepath.Clean(p), "/"), "/")
	cur := "/"
	for hops := 0; len(parts) > 0; {
		name := parts[0]
		parts = parts[1:]
		if name == "" || name == "." {
			continue
		}
		if name == ".." {
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, name)
		host := filepath.Join(rb.dir, next)
		fi, err := os.Lstat(host)
		switch {
		case err == nil && fi.Mode()&fs.ModeSymlink != 0:
			if hops++; hops > 40 {
				return "", fmt.Errorf("%s: too many levels of symbolic links", p)
			}
			link, err := os.Readlink(host)
			if err != nil {
				return "", err
			}
			rest := append(strings.Split(strings.TrimPrefix(filepath.Clean(link), "/"), "/"), parts...)
			if filepath.IsAbs(link) {
				cur = "/"
			}
			parts = rest
			continue
		case err == nil:
			cur = next
			continue
		case !errors.Is(err, fs.ErrNotExist):
			return "", err
		}
		if rb.kindOf(cur) == kindHost {
			if err := rb.mirror(cur); err != nil {
				return "", fmt.Errorf("overlay %s: %w", cur, err)
			}
		}
		last := len(parts) == 0
		if last && !dir {
			f, err := os.OpenFile(host, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return "", err
			}
			f.Close()
		} else if err := os.Mkdir(host, 0o755); err != nil {
			return "", err
		}
		cur = next
	}
	return cur, nil
}

// bind mounts m.Source at m.Target inside the root.
func (rb *rootBuilder) bind(m bindMount) error {
	fi, err := os.Stat(m.Source)
	if err != nil {
		return err
	}
	target, err := rb.ensure(m.Target, fi.IsDir())
	if err != nil {
		return err
	}
	dst := filepath.Join(rb.dir, target)
	if err := syscall.Mount(m.Source, dst, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return err
	}
	if m.ReadOnly {
		// A remount must keep the flags the mount already has (in a user namespace they are locked).
		if err := syscall.Mount("", dst, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY|lockedFlags(dst), ""); err != nil {
			return fmt.Errorf("make read-only: %w", err)
		}
	}
	// Records below target are now hidden.
	for k := range rb.kinds {
		if strings.HasPrefix(k, target+"/") {
			delete(rb.kinds, k)
		}
	}
	rb.kinds[target] = kindVolume
	return nil
}

// lockedFlags returns the per-mount flags of the mount at p, as mount(2) flags.
func lockedFlags(p string) uintptr {
	var st syscall.Statfs_t
	if err := syscall.Statfs(p, &st); err != nil {
		return 0
	}
	const (
		stNosuid     = 0x2
		stNodev      = 0x4
		stNoexec     = 0x8
		stNoatime    = 0x400
		stNodiratime = 0x800
		stRelatime   = 0x1000
	)
	var f uintptr
	for bit, ms := range map[int64]uintptr{
		stNosuid: syscall.MS_NOSUID, stNodev: syscall.MS_NODEV, stNoexec: syscall.MS_NOEXEC,
		stNoatime: syscall.MS_NOATIME, stNodiratime: syscall.MS_NODIRATIME, stRelatime: syscall.MS_RELATIME,
	} {
		if int64(st.Flags)&bit != 0 {
			f |= ms
		}
	}
	return f
}
