package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

type probeResult struct {
	c     *ctr
	runID int
	kind  string // startup, readiness, liveness
	ok    bool
	msg   string
}

// probeEnv is what a probe needs to reach its container.
type probeEnv struct {
	env       []string
	envMap    map[string]string
	path, cwd string
	maps      []pathMap
	ip        string
	ports     []v1.ContainerPort
	runID     int
	c         *ctr
	readiness *v1.Probe
	liveness  *v1.Probe
	probeCtx  context.Context
}

func (w *podWorker) startProbes(pod *v1.Pod, c *ctr, env map[string]string, maps []pathMap, cwd string) {
	ctx, cancel := context.WithCancel(w.a.ctx)
	c.stopProbes = cancel
	pe := &probeEnv{env: envList(env), envMap: env, path: env["PATH"], cwd: cwd, maps: maps, ip: w.ip, ports: c.spec.Ports,
		runID: c.runID, c: c, readiness: c.spec.ReadinessProbe, liveness: c.spec.LivenessProbe, probeCtx: ctx}
	c.probeEnv = pe
	if c.spec.StartupProbe != nil {
		go w.probeLoop(pe, "startup", c.spec.StartupProbe)
		return
	}
	w.startMainProbes(pe)
}

func (w *podWorker) startMainProbes(pe *probeEnv) {
	if pe.readiness != nil {
		go w.probeLoop(pe, "readiness", pe.readiness)
	}
	if pe.liveness != nil {
		go w.probeLoop(pe, "liveness", pe.liveness)
	}
}

// probeLoop runs a probe every period and reports threshold crossings.
func (w *podWorker) probeLoop(pe *probeEnv, kind string, p *v1.Probe) {
	sec := func(v, def int32) time.Duration { return time.Duration(orDefault(v, def)) * time.Second }
	ctx := pe.probeCtx
	sleepCtx(ctx, sec(p.InitialDelaySeconds, 0))
	succ, fail, last := 0, 0, -1
	for ctx.Err() == nil {
		err := runProbe(ctx, pe, p, sec(p.TimeoutSeconds, 1))
		if err == nil {
			succ, fail = succ+1, 0
		} else {
			succ, fail = 0, fail+1
		}
		report := -1
		if err == nil && succ >= int(orDefault(p.SuccessThreshold, 1)) {
			report = 1
		} else if err != nil && fail >= int(orDefault(p.FailureThreshold, 3)) {
			report = 0
		}
		if report >= 0 && (report != last || kind == "liveness") {
			last = report
			r := probeResult{c: pe.c, runID: pe.runID, kind: kind, ok: report == 1}
			if err != nil {
				r.msg = err.Error()
			}
			select {
			case w.probeCh <- r:
			case <-ctx.Done():
				return
			}
			if kind == "startup" && report == 1 {
				return
			}
		}
		sleepCtx(ctx, sec(p.PeriodSeconds, 10))
	}
}

func orDefault(v, def int32) int32 {
	if v <= 0 {
		return def
	}
	return v
}

// applyProbe applies a probe result in the worker goroutine.
func (w *podWorker) applyProbe(r probeResult) {
	c := r.c
	if c.proc == nil || c.runID != r.runID {
		return
	}
	if !r.ok {
		w.event(c, v1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", r.kind, r.msg)
	}
	switch {
	case r.kind == "readiness":
		c.ready = r.ok
	case r.kind == "startup" && r.ok:
		c.started = true
		w.startMainProbes(c.probeEnv)
	case !r.ok: // startup or liveness failure: kill, the restart policy decides what follows
		w.log().Info("container failed its probe, killing", "container", c.spec.Name, "probe", r.kind)
		w.event(c, v1.EventTypeNormal, "Killing", "Container %s failed %s probe, will be restarted", c.spec.Name, r.kind)
		p := c.proc
		w.mu.Lock()
		grace := gracePeriod(w.pod.Spec.TerminationGracePeriodSeconds)
		w.mu.Unlock()
		killSession(p.pid, syscall.SIGTERM)
		go func() {
			select {
			case <-p.done:
			case <-time.After(grace):
				killSession(p.pid, syscall.SIGKILL)
			}
		}()
	}
}

func runProbe(ctx context.Context, pe *probeEnv, p *v1.Probe, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	port := func(ip intstr.IntOrString) (string, error) {
		if ip.Type == intstr.Int {
			return strconv.Itoa(ip.IntValue()), nil
		}
		for _, cp := range pe.ports {
			if cp.Name == ip.StrVal {
				return strconv.Itoa(int(cp.ContainerPort)), nil
			}
		}
		return "", fmt.Errorf("no container port named %q", ip.StrVal)
	}
	dial := func(host string, pt intstr.IntOrString) error {
		if host == "" {
			host = pe.ip
		}
		ps, err := port(pt)
		if err != nil {
			return err
		}
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(host, ps))
		if err == nil {
			conn.Close()
		}
		return err
	}
	switch h := p.ProbeHandler; {
	case h.Exec != nil:
		if len(h.Exec.Command) == 0 {
			return fmt.Errorf("empty exec probe")
		}
		argv := make([]string, len(h.Exec.Command))
		for i, a := range h.Exec.Command {
			argv[i] = rewritePaths(expand(a, mapLookup(pe.envMap)), pe.maps)
		}
		exe, err := lookPath(argv[0], pe.path, pe.cwd)
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, exe, argv[1:]...)
		cmd.Env, cmd.Dir = pe.env, pe.cwd
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
		cmd.Cancel = func() error { killSession(cmd.Process.Pid, syscall.SIGKILL); return nil }
		cmd.WaitDelay = time.Second
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %s", err, truncate(string(out), 200))
		}
		return nil
	case h.HTTPGet != nil:
		host := h.HTTPGet.Host
		if host == "" {
			host = pe.ip
		}
		ps, err := port(h.HTTPGet.Port)
		if err != nil {
			return err
		}
		scheme := "http"
		if h.HTTPGet.Scheme == v1.URISchemeHTTPS {
			scheme = "https"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, ps)+h.HTTPGet.Path, nil)
		if err != nil {
			return err
		}
		for _, hd := range h.HTTPGet.HTTPHeaders {
			req.Header.Add(hd.Name, hd.Value)
		}
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return nil
	case h.TCPSocket != nil:
		return dial(h.TCPSocket.Host, h.TCPSocket.Port)
	case h.GRPC != nil: // approximated by a TCP connect
		return dial("", intstr.FromInt32(h.GRPC.Port))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
