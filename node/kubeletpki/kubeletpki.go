// Package kubeletpki makes the certificates that let a kube-apiserver, and only it, read the node agent's
// kubelet API (container logs): a CA, a serving certificate for the agent and a client certificate for the
// API server, all signed by that CA. The local control planes (`hookrun dev`, test/controlplane) generate
// them at start and pass APIServerFlags to kube-apiserver and the files to the node agent.
package kubeletpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// APIServerClientName is the common name of the API server's kubelet client certificate.
const APIServerClientName = "kube-apiserver-kubelet-client"

// validity of every certificate made here. The files are made afresh at each start.
const validity = 365 * 24 * time.Hour

// Files are the PEM files written by Generate.
type Files struct {
	// CACert signs the other two certificates. kube-apiserver verifies the serving certificate with it
	// (--kubelet-certificate-authority) and the node agent verifies client certificates with it.
	CACert string
	// ServingCert and ServingKey are the node agent's TLS serving certificate (server auth only).
	ServingCert, ServingKey string
	// ClientCert and ClientKey are kube-apiserver's kubelet client certificate (client auth only).
	ClientCert, ClientKey string
}

// Generate writes a fresh CA, a serving certificate for hosts (IP addresses or DNS names) and the API
// server's client certificate into dir (created if needed), replacing any earlier ones.
func Generate(dir string, hosts []string) (*Files, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("kubeletpki: %w", err)
	}
	f := &Files{
		CACert:      filepath.Join(dir, "ca.crt"),
		ServingCert: filepath.Join(dir, "kubelet.crt"),
		ServingKey:  filepath.Join(dir, "kubelet.key"),
		ClientCert:  filepath.Join(dir, "apiserver-kubelet-client.crt"),
		ClientKey:   filepath.Join(dir, "apiserver-kubelet-client.key"),
	}
	caKey, err := newKey()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "hookrun-kubelet-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, caCert, err := sign(caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	if err := writePEM(f.CACert, "CERTIFICATE", caDER); err != nil {
		return nil, err
	}

	serving := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "hookrun-node-agent"},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(validity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			serving.IPAddresses = append(serving.IPAddresses, ip)
		} else {
			serving.DNSNames = append(serving.DNSNames, h)
		}
	}
	if err := issue(serving, caCert, caKey, f.ServingCert, f.ServingKey); err != nil {
		return nil, err
	}
	client := &x509.Certificate{
		Subject:     pkix.Name{CommonName: APIServerClientName, Organization: []string{"system:masters"}},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(validity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if err := issue(client, caCert, caKey, f.ClientCert, f.ClientKey); err != nil {
		return nil, err
	}
	return f, nil
}

// APIServerFlags are the kube-apiserver flags (name without "--", value) that make it reach node agents
// through their InternalIP, verify their serving certificate and present its client certificate.
func (f *Files) APIServerFlags() [][2]string {
	return [][2]string{
		{"kubelet-client-certificate", f.ClientCert},
		{"kubelet-client-key", f.ClientKey},
		{"kubelet-certificate-authority", f.CACert},
		// The agent publishes InternalIP 127.0.0.1 and its node name as Hostname, which does not resolve.
		{"kubelet-preferred-address-types", "InternalIP,InternalDNS,Hostname,ExternalDNS,ExternalIP"},
	}
}

func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("kubeletpki: generate key: %w", err)
	}
	return k, nil
}

func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) ([]byte, *x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("kubeletpki: serial: %w", err)
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, nil, fmt.Errorf("kubeletpki: sign %s: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("kubeletpki: parse %s: %w", tmpl.Subject.CommonName, err)
	}
	return der, cert, nil
}

func issue(tmpl, ca *x509.Certificate, caKey crypto.Signer, certFile, keyFile string) error {
	key, err := newKey()
	if err != nil {
		return err
	}
	der, _, err := sign(tmpl, ca, key.Public(), caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("kubeletpki: marshal key: %w", err)
	}
	if err := writePEM(keyFile, "EC PRIVATE KEY", keyDER); err != nil {
		return err
	}
	return writePEM(certFile, "CERTIFICATE", der)
}

func writePEM(file, typ string, der []byte) error {
	data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return fmt.Errorf("kubeletpki: %w", err)
	}
	return nil
}
