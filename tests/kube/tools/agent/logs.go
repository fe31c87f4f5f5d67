package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

const maxLogRead = 64 << 20

// startLogServers serves the kubelet log endpoint (GET /containerLogs/{ns}/{pod}/{container})
// over HTTPS on 127.0.0.1, one port per node, so "kubectl logs" works.
func (a *agent) startLogServers(ctx context.Context) error {
	cert, err := selfSignedCert(a.nodes)
	if err != nil {
		return err
	}
	for i, n := range a.nodes {
		port := 0
		if a.cfg.kubeletPortBase > 0 {
			port = a.cfg.kubeletPortBase + i
		}
		ln, err := net.Listen("tcp", hostPort("127.0.0.1", port))
		if err != nil {
			return fmt.Errorf("log server of %s: %v", n.name, err)
		}
		n.port = ln.Addr().(*net.TCPAddr).Port
		mux := http.NewServeMux()
		mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{ctr}", a.serveLogs(n))
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert}
		srv := &http.Server{Handler: mux, TLSConfig: cfg, ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(tls.NewListener(ln, cfg)) }()
		go func() { <-ctx.Done(); _ = srv.Close() }()
	}
	return nil
}

func selfSignedCert(nodes []*node) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "herd-node-agent"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	for _, n := range nodes {
		tmpl.DNSNames = append(tmpl.DNSNames, n.name)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func (a *agent) serveLogs(n *node) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		ns, podName, name := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("ctr")
		q := r.URL.Query()
		follow, previous := q.Get("follow") == "true", q.Get("previous") == "true"
		tail, _ := strconv.Atoi(q.Get("tailLines"))
		if q.Get("tailLines") == "" {
			tail = -1
		}
		limit, _ := strconv.ParseInt(q.Get("limitBytes"), 10, 64)
		path, start, end := "", int64(0), int64(-1)
		var live *proc
		if w := a.podByName(n.name, ns, podName); w != nil {
			var c *ctr
			for _, x := range w.all() {
				if x.spec.Name == name {
					c = x
				}
			}
			if c == nil {
				http.Error(rw, fmt.Sprintf("container %q not found in pod %s/%s", name, ns, podName), http.StatusNotFound)
				return
			}
			w.mu.Lock()
			runs, p := c.runs, c.proc
			w.mu.Unlock()
			switch {
			case previous && len(runs) < 2:
				http.Error(rw, fmt.Sprintf("previous terminated container %q in pod %q not found", name, podName), http.StatusBadRequest)
				return
			case previous:
				start, end = runs[len(runs)-2], runs[len(runs)-1]
			case len(runs) == 0:
				http.Error(rw, fmt.Sprintf("container %q in pod %q is waiting to start", name, podName), http.StatusBadRequest)
				return
			default:
				start, live = runs[len(runs)-1], p
			}
			path = filepath.Join(w.dir, name+".log")
		} else { // pod no longer live here: newest log of that name
			matches, _ := filepath.Glob(filepath.Join(a.cfg.stateDir, "pods", ns+"_"+podName+"_*", name+".log"))
			var newest time.Time
			for _, m := range matches {
				if fi, err := os.Stat(m); err == nil && fi.ModTime().After(newest) {
					path, newest = m, fi.ModTime()
				}
			}
			if path == "" {
				http.Error(rw, fmt.Sprintf("no logs for container %q of pod %s/%s", name, ns, podName), http.StatusNotFound)
				return
			}
		}
		b, off, err := readSegment(path, start, end, maxLogRead, false)
		if err != nil && !os.IsNotExist(err) {
			http.Error(rw, err.Error(), http.StatusInternalServerError)
			return
		}
		if tail >= 0 {
			b = tailLines(b, tail)
		}
		out := io.Writer(rw)
		if limit > 0 {
			out = &limitWriter{w: rw, n: limit}
		}
		rw.Header().Set("Content-Type", "text/plain")
		if _, err := out.Write(b); err != nil || !follow || live == nil {
			return
		}
		flusher, _ := rw.(http.Flusher)
		for {
			if flusher != nil {
				flusher.Flush()
			}
			exited := live.exited()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			more, next, _ := readSegment(path, off, -1, maxLogRead, true)
			off = next
			if _, err := out.Write(more); err != nil || exited {
				return
			}
		}
	}
}

type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.w.Write(p)
	l.n -= int64(n)
	return n, err
}

// readSegment reads bytes [start, end) of path (end < 0: to the end), at most max
// of them (the first ones if head, else the last ones); it returns the offset it stopped at.
func readSegment(path string, start, end, max int64, head bool) ([]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, start, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, start, err
	}
	if end < 0 || end > fi.Size() {
		end = fi.Size()
	}
	if start > end {
		start = end
	}
	if end-start > max {
		if head {
			end = start + max
		} else {
			start = end - max
		}
	}
	b := make([]byte, end-start)
	n, err := f.ReadAt(b, start)
	if err == io.EOF {
		err = nil
	}
	return b[:n], start + int64(n), err
}

// tailLines keeps the last n lines of b.
func tailLines(b []byte, n int) []byte {
	if n <= 0 {
		return nil
	}
	i := len(b)
	if i > 0 && b[i-1] == '\n' {
		i--
	}
	for ; n > 0; n-- {
		j := bytes.LastIndexByte(b[:i], '\n')
		if j < 0 {
			return b
		}
		i = j
	}
	return b[i+1:]
}
