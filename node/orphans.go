package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A container's process group is recorded in <pod dir>/run/<container>.pid as "PGID STARTTIME" (the group
// leader's start time in clock ticks since boot, from /proc) while it runs, so that an agent started after a
// crash can kill what the previous one left behind without mistaking a reused PID for it.

func pidFile(podDir, container string) string {
	return filepath.Join(podDir, "run", container+".pid")
}

// procStat returns the process group and start time of a live (non-zombie) process from /proc.
func procStat(pid int) (pgid int, start uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, 0, fmt.Errorf("process %d is dead", pid)
	}
	if pgid, err = strconv.Atoi(f[2]); err != nil {
		return 0, 0, err
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return pgid, start, err
}

// groupMembers counts the live processes of a process group started at or after start.
func groupMembers(pgid int, start uint64) int {
	n := 0
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, s, err := procStat(pid); err == nil && g == pgid && s >= start {
			n++
		}
	}
	return n
}

// killGroup sends SIGKILL to a process group and waits (up to timeout) until none of its members is alive,
// since signals are delivered asynchronously.
func killGroup(pgid int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		if syscall.Kill(-pgid, syscall.SIGKILL) != nil || groupMembers(pgid, 0) == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recordGroup writes the pid file of a started container.
func recordGroup(file string, pgid int) {
	_, start, err := procStat(pgid)
	if err != nil {
		return
	}
	_ = os.WriteFile(file, fmt.Appendf(nil, "%d %d\n", pgid, start), 0o600)
}

// killLeftovers kills the process groups recorded in a Pod directory by an earlier agent and removes the
// records. A group is only killed when its leader is gone or is the recorded process (same start time).
func killLeftovers(podDir string) (killed int) {
	files, _ := filepath.Glob(filepath.Join(podDir, "run", "*.pid"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		_ = os.Remove(file)
		if err != nil {
			continue
		}
		var pgid int
		var start uint64
		if _, err := fmt.Sscanf(string(b), "%d %d", &pgid, &start); err != nil || pgid <= 1 {
			continue
		}
		if lp, ls, err := procStat(pgid); err == nil && (lp != pgid || ls != start) {
			continue // the PID now belongs to another process
		}
		if members := groupMembers(pgid, start); members > 0 {
			killGroup(pgid, 5*time.Second)
			killed += members
		}
	}
	return killed
}
