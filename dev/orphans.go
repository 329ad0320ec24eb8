package dev

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// reapOrphans kills etcd processes still using state's data dir (left by a `hookrun dev` that was
// killed: they hold etcd's database lock, and a new etcd would wait on it forever) and the kube-apiservers
// talking to them. Only processes tied to this state directory are touched; we hold the state lock, so
// none belongs to a live `hookrun dev`.
func reapOrphans(state string) int {
	procs := map[int][]string{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		procs[pid] = strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	}
	var victims []int
	var clientURLs []string
	for pid, args := range procs {
		if filepath.Base(args[0]) != "etcd" {
			continue
		}
		mine := false
		for _, a := range args[1:] {
			if a == "--data-dir="+filepath.Join(state, "etcd") {
				mine = true
			}
		}
		if !mine {
			continue
		}
		victims = append(victims, pid)
		for _, a := range args[1:] {
			if v, ok := strings.CutPrefix(a, "--listen-client-urls="); ok {
				clientURLs = append(clientURLs, strings.Split(v, ",")...)
			}
		}
	}
	for pid, args := range procs {
		if filepath.Base(args[0]) != "kube-apiserver" {
			continue
		}
		for _, a := range args[1:] {
			v, ok := strings.CutPrefix(a, "--etcd-servers=")
			if !ok {
				continue
			}
			for _, u := range clientURLs {
				if v == u {
					victims = append(victims, pid)
				}
			}
		}
	}
	n := 0
	for _, pid := range victims {
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	if n > 0 {
		time.Sleep(500 * time.Millisecond)
	}
	return n
}
