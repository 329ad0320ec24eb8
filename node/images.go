package node

import "strings"

// shellImages are official images with no ENTRYPOINT (their CMD is a shell), so a container that gives
// only args runs those args as its command, exactly as a container runtime would. bash's entrypoint runs
// "$@" as given unless the first arg is an option (then bash "$@").
var shellImages = map[string]bool{
	"busybox": true, "alpine": true, "ubuntu": true, "debian": true, "fedora": true, "centos": true,
	"bash": true,
}

// imageRepo returns an image reference's repository path without registry, "library/", tag or digest:
// "mirror.gcr.io/library/alpine:3.20@sha256:…" → "alpine".
func imageRepo(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndexByte(image, ':'); i >= 0 && !strings.Contains(image[i:], "/") {
		image = image[:i]
	}
	if first, rest, ok := strings.Cut(image, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		image = rest
	}
	return strings.TrimPrefix(image, "library/")
}

// argsCommand returns what a container with args but no command runs, when its image is known to have no
// entrypoint of its own; ok is false when only a container runtime can know.
func argsCommand(image string, args []string) (argv []string, ok bool) {
	repo := imageRepo(image)
	if len(args) == 0 || !shellImages[repo] {
		return nil, false
	}
	if repo == "bash" && strings.HasPrefix(args[0], "-") {
		return append([]string{"bash"}, args...), true
	}
	return append([]string(nil), args...), true
}
