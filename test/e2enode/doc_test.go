// Package e2enode runs the executor's Pods in real containers: a kubelet (built from k8s.io/kubernetes
// like kube-apiserver) with Debian's containerd + runc + CNI plugins on this machine, kube-scheduler and
// kube-controller-manager (PV binder, garbage collector), etcd + kube-apiserver, and hookrun's executor
// and listener binaries. Images are built locally with umoci (hack/e2e-node/images.sh) because nothing can
// be pulled; the examples' images (alpine:3.20, alpine/git:2.45.2, bash:5.1.4) are imported under those
// names so the examples run unchanged.
//
// It runs only with HOOKRUN_E2E_NODE=1, as root: `make e2e-node` installs the packages, builds the
// binaries and runs it. Everything it starts lives under .e2e/run (containerd root, state and socket,
// kubelet root, pod logs, CNI config and IPAM data, etcd data) and is stopped at the end, also on failure;
// hack/e2e-node/cleanup.sh reaps what a killed run left.
package e2enode
