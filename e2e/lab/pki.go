package lab

import (
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

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// certLifetime is long enough for any test run and short enough that a
// leaked key is worthless by tomorrow.
const certLifetime = 24 * time.Hour

// keyPair is a certificate and its key, both PEM-encoded.
type keyPair struct {
	cert, key []byte
	parsed    *x509.Certificate
	signer    *ecdsa.PrivateKey
}

// pki is the lab's certificate authority and the files the API server reads.
type pki struct {
	dir      string
	ca       keyPair
	caFile   string
	tlsCert  string // API server serving certificate
	tlsKey   string
	saPub    string // service-account verification key
	saKey    string // service-account signing key
	serverIP net.IP
}

// newPKI writes a CA, a serving certificate for serverIP, and a service-account
// key pair into dir.
func newPKI(dir string, serverIP net.IP) (*pki, error) {
	p := &pki{dir: dir, serverIP: serverIP}
	var err error
	if p.ca, err = newCert(nil, pkix.Name{CommonName: "vipkeeper-lab-ca"}, sans{}, 0); err != nil {
		return nil, err
	}
	serving, err := newCert(&p.ca, pkix.Name{CommonName: "kube-apiserver"},
		sans{ips: []net.IP{serverIP, net.IPv4(127, 0, 0, 1)}, dns: append(serviceNames(), "localhost")}, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, err
	}
	sa, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	saDER, err := x509.MarshalPKIXPublicKey(&sa.PublicKey)
	if err != nil {
		return nil, err
	}
	saKey, err := encodeKey(sa)
	if err != nil {
		return nil, err
	}
	p.caFile = filepath.Join(dir, "ca.crt")
	p.tlsCert, p.tlsKey = filepath.Join(dir, "apiserver.crt"), filepath.Join(dir, "apiserver.key")
	p.saPub, p.saKey = filepath.Join(dir, "sa.pub"), filepath.Join(dir, "sa.key")
	files := map[string][]byte{
		p.caFile:  p.ca.cert,
		p.tlsCert: serving.cert,
		p.tlsKey:  serving.key,
		p.saPub:   pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saDER}),
		p.saKey:   saKey,
	}
	for name, b := range files {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// kubeconfig writes a kubeconfig for a client certificate with the given
// subject and returns its path.
func (p *pki) kubeconfig(file string, subject pkix.Name, server string) (string, error) {
	kp, err := newCert(&p.ca, subject, sans{}, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return "", err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["lab"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: p.ca.cert}
	cfg.AuthInfos["lab"] = &clientcmdapi.AuthInfo{ClientCertificateData: kp.cert, ClientKeyData: kp.key}
	cfg.Contexts["lab"] = &clientcmdapi.Context{Cluster: "lab", AuthInfo: "lab"}
	cfg.CurrentContext = "lab"
	path := filepath.Join(p.dir, file)
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

// sans are a certificate's subject alternative names.
type sans struct {
	ips []net.IP
	dns []string
}

// serviceNames are the in-cluster names of the API server that every
// kubeadm serving certificate carries.
func serviceNames() []string {
	return []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc"}
}

// servingCert issues a serving certificate for names and writes it and its
// key as <file>.crt and <file>.key; it returns the two paths.
func (p *pki) servingCert(file string, names sans) (cert, key string, err error) {
	kp, err := newCert(&p.ca, pkix.Name{CommonName: "kube-apiserver"}, names, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return "", "", err
	}
	cert, key = filepath.Join(p.dir, file+".crt"), filepath.Join(p.dir, file+".key")
	if err := os.WriteFile(cert, kp.cert, 0o600); err != nil {
		return "", "", err
	}
	return cert, key, os.WriteFile(key, kp.key, 0o600)
}

// newCert issues a certificate signed by parent, or a self-signed CA when
// parent is nil.
func newCert(parent *keyPair, subject pkix.Name, names sans, usage x509.ExtKeyUsage) (keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyPair{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return keyPair{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    now.Add(-time.Minute), // tolerate small clock steps
		NotAfter:     now.Add(certLifetime),
		IPAddresses:  names.ips,
		DNSNames:     names.dns,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	signer, issuer := key, tmpl
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
		signer, issuer = parent.signer, parent.parsed
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signer)
	if err != nil {
		return keyPair{}, fmt.Errorf("sign %s: %w", subject.CommonName, err)
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		return keyPair{}, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return keyPair{}, err
	}
	return keyPair{
		cert:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:    keyPEM,
		parsed: parsed,
		signer: key,
	}, nil
}

func encodeKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}
