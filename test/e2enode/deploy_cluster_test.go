package e2enode

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// What Pods need to reach the API server the way they do in a cluster (in-cluster config): the Service
// `kubernetes` (its ClusterIP, the first of serviceCIDR) routed by kube-proxy to the API server, which
// listens on every address and advertises the pod network's gateway; a serving certificate valid for
// those addresses; ServiceAccount token signing keys the controller-manager and the API server share.
const (
	serviceCIDR       = "10.0.0.0/24" // envtest's --service-cluster-ip-range
	kubernetesSvcIP   = "10.0.0.1"
	apiserverCAFile   = "serving-ca.crt"
	saSigningKeyFile  = "sa-signer.key" // the names envtest would use: it finds them and generates nothing
	saSigningCertFile = "sa-signer.crt"
)

// writeAPIServerCerts writes, into the API server's cert dir, a CA of its own, a serving certificate for
// localhost, the loopback, the `kubernetes` Service's ClusterIP and DNS names and the gateway address, and
// the ServiceAccount signing key pair. It returns the CA certificate (PEM) the clients trust. envtest
// generates none of these when apiserver.crt is already there.
func writeAPIServerCerts(dir string) ([]byte, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hookrun-e2e-node-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("serving key: %w", err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(kubernetesSvcIP), net.ParseIP(gatewayIP)},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("serving certificate: %w", err)
	}
	srvKeyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return nil, err
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("ServiceAccount signing key: %w", err)
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	files := []struct {
		name string
		data []byte
	}{
		{apiserverCAFile, caPEM},
		{"apiserver.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: srvKeyDER})},
		{saSigningKeyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)})},
		{saSigningCertFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub})},
		// Last: its presence is what tells envtest the directory is populated.
		{"apiserver.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER})},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", f.name, err)
		}
	}
	return caPEM, nil
}

// startKubeProxy runs kube-proxy (built from the same k8s.io/kubernetes) in nftables mode: ClusterIP
// Services work from the host and from Pods. Its rules live in the nftables tables `ip kube-proxy` and
// `ip6 kube-proxy`; the marker file tells cleanup.sh to delete them.
func (n *node) startKubeProxy() (*proc, error) {
	healthz, err := freePort()
	if err != nil {
		return nil, err
	}
	metrics, err := freePort()
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(n.run, "kube-proxy.yaml")
	// conntrack sysctls untouched (0): this host's are not ours to tune; oomScoreAdj 0: root here may not
	// lower it (no CAP_SYS_RESOURCE). masqueradeAll: replies of Service
	// traffic between two Pods on the bridge come back through the host (no br_netfilter needed).
	cfg := fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clientConnection:
  kubeconfig: %s
hostnameOverride: %s
clusterCIDR: %s
healthzBindAddress: 127.0.0.1:%d
metricsBindAddress: 127.0.0.1:%d
oomScoreAdj: 0
nftables:
  masqueradeAll: true
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, n.kubeconfig, nodeName, podSubnet, healthz, metrics)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(n.run, "kube-proxy.nft"), []byte("ip kube-proxy\nip6 kube-proxy\n"), 0o644); err != nil {
		return nil, err
	}
	p, err := n.startProc("kube-proxy", filepath.Join(n.bin, "kube-proxy"), "--config="+cfgPath, "--v=1")
	if err != nil {
		return nil, err
	}
	return p, nil
}

// waitKubeProxy waits until kube-proxy has programmed the `kubernetes` Service.
func (n *node) waitKubeProxy(timeout time.Duration) error {
	return waitFor(timeout, "kube-proxy rules for the kubernetes Service", func() (bool, error) {
		out, err := run(n.root, "nft", "list", "table", "ip", "kube-proxy")
		if err != nil {
			return false, err
		}
		return strings.Contains(out, kubernetesSvcIP), nil
	})
}
