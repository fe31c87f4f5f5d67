package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// proc is one run of a container: a process that leads its own session.
type proc struct {
	pid      int
	started  time.Time
	finished time.Time
	done     chan struct{} // closed once the leader is reaped and the session killed
	exitCode int
	oom      atomic.Bool
}

// startProc starts argv in a new session with stdout+stderr appended to logPath;
// notify is called after the process exits. marker is an env entry unique to the
// container (its HERD_FS_ROOT): descendants that left the session are found by it.
func startProc(argv, env []string, dir, logPath, marker string, notify func()) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := &exec.Cmd{Path: argv[0], Args: argv, Env: env, Dir: dir, Stdout: logf, Stderr: logf,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{pid: cmd.Process.Pid, started: time.Now(), done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.exitCode = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				p.exitCode = 128 + int(ws.Signal())
			} else {
				p.exitCode = ee.ExitCode()
			}
		} else if err != nil {
			p.exitCode = 128
		}
		p.finished = time.Now()
		killSession(p.pid, syscall.SIGKILL) // a container ends with its main process
		killMarked(marker)
		close(p.done)
		notify()
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// killSession signals the process group sid and every process still in session sid.
func killSession(sid int, sig syscall.Signal) {
	_ = syscall.Kill(-sid, sig)
	for _, pi := range scanProcs() {
		if pi.sid == sid && pi.pid != sid {
			_ = syscall.Kill(pi.pid, sig)
		}
	}
}

// stopProcs sends SIGTERM, waits up to grace (or until abort is closed), then
// SIGKILLs and waits for the reaping.
func stopProcs(procs []*proc, grace time.Duration, abort <-chan struct{}) {
	for _, p := range procs {
		killSession(p.pid, syscall.SIGTERM)
	}
	deadline := time.After(grace)
wait:
	for _, p := range procs {
		select {
		case <-p.done:
		case <-deadline:
			break wait
		case <-abort:
			break wait
		}
	}
	for _, p := range procs {
		if !p.exited() {
			killSession(p.pid, syscall.SIGKILL)
		}
	}
	for _, p := range procs {
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			slog.Error("process did not exit after SIGKILL", "pid", p.pid)
		}
	}
}

// killMarked SIGKILLs every process whose environment contains the entry marker.
func killMarked(marker string) {
	want := []byte(marker + "\x00")
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/environ"); err == nil && bytes.Contains(append([]byte{0}, b...), append([]byte{0}, want...)) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

type procInfo struct{ pid, sid, rssPages int }

// scanProcs reads pid, session and RSS of every process from /proc/*/stat.
func scanProcs() []procInfo {
	ents, _ := os.ReadDir("/proc")
	out := make([]procInfo, 0, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // f[0] is field 3 (state)
		if len(f) < 22 {
			continue
		}
		sid, _ := strconv.Atoi(f[3])
		rss, _ := strconv.Atoi(f[21])
		out = append(out, procInfo{pid, sid, rss})
	}
	return out
}

// memMonitor SIGKILLs sessions whose summed RSS goes over their memory limit.
type memMonitor struct {
	mu      sync.Mutex
	watched map[int]memWatch
}

type memWatch struct {
	limit int64
	onOOM func()
}

func newMemMonitor() *memMonitor { return &memMonitor{watched: map[int]memWatch{}} }

func (m *memMonitor) watch(sid int, limit int64, onOOM func()) {
	m.mu.Lock()
	m.watched[sid] = memWatch{limit, onOOM}
	m.mu.Unlock()
}

func (m *memMonitor) unwatch(sid int) {
	m.mu.Lock()
	delete(m.watched, sid)
	m.mu.Unlock()
}

func (m *memMonitor) run(ctx context.Context) {
	page := int64(os.Getpagesize())
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.mu.Lock()
		n := len(m.watched)
		m.mu.Unlock()
		if n == 0 {
			continue
		}
		rss := map[int]int64{}
		for _, pi := range scanProcs() {
			rss[pi.sid] += int64(pi.rssPages) * page
		}
		m.mu.Lock()
		for sid, w := range m.watched {
			if rss[sid] > w.limit {
				slog.Warn("memory limit exceeded, killing", "sid", sid, "rss", rss[sid], "limit", w.limit)
				delete(m.watched, sid)
				w.onOOM()
				killSession(sid, syscall.SIGKILL)
			}
		}
		m.mu.Unlock()
	}
}

// ipAllocator hands out unique loopback addresses from a base.
// ipAllocator hands out pod IPs round-robin, as CNI's host-local IPAM does: a
// released address is not handed out again until the range wraps, so a client
// still aimed at a deleted pod (a coordinator of an earlier test that is still
// stopping) cannot reach the next pod that would have got its address.
type ipAllocator struct {
	mu   sync.Mutex
	base uint32
	next uint32 // where the search for a free address starts
	used map[uint32]bool
}

func newIPAllocator(base string) (*ipAllocator, error) {
	ip := net.ParseIP(base).To4()
	if ip == nil || ip[0] != 127 {
		return nil, fmt.Errorf("--pod-ip-base %q: want an address in 127.0.0.0/8", base)
	}
	b := binary.BigEndian.Uint32(ip)
	return &ipAllocator{base: b, next: b, used: map[uint32]bool{}}, nil
}

func usableIP(v uint32) bool {
	return v>>24 == 127 && v&0xff != 0 && v&0xff != 255 && v != 0x7f000001
}

// allocate returns prefer if it is a free usable address, else the first free one from base.
func (a *ipAllocator) allocate(prefer string) (string, error) {
	if a.reserve(prefer) {
		return prefer, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	take := func(from, to uint32) (string, bool) {
		for v := from; v < to && v>>24 == 127; v++ {
			if usableIP(v) && !a.used[v] {
				a.used[v] = true
				a.next = v + 1
				ip := make(net.IP, 4)
				binary.BigEndian.PutUint32(ip, v)
				return ip.String(), true
			}
		}
		return "", false
	}
	if ip, ok := take(a.next, 0x80000000); ok {
		return ip, nil
	}
	if ip, ok := take(a.base, a.next); ok { // wrapped: the oldest released addresses come back first
		return ip, nil
	}
	return "", errors.New("no free pod IP")
}

// reserve claims a specific address (a pod's IP from before an agent restart).
func (a *ipAllocator) reserve(ip string) bool {
	v := net.ParseIP(ip).To4()
	if v == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n := binary.BigEndian.Uint32(v)
	if !usableIP(n) || a.used[n] {
		return false
	}
	a.used[n] = true
	return true
}

func (a *ipAllocator) release(ip string) {
	if v := net.ParseIP(ip).To4(); v != nil {
		a.mu.Lock()
		delete(a.used, binary.BigEndian.Uint32(v))
		a.mu.Unlock()
	}
}
