package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

const (
	backoffInitial = time.Second
	backoffMax     = 10 * time.Second
	refreshEvery   = 15 * time.Second
	maxTermMessage = 4096
)

// ctr is the runtime state of one (init) container; owned by the pod worker goroutine.
type ctr struct {
	spec                 v1.Container
	init                 bool
	sidecar              bool  // init container with restartPolicy Always
	proc                 *proc // current run, nil when not running
	runID                int
	runs                 []int64 // log offsets at which each run started (read by the log server under w.mu)
	restarts             int32
	term                 *v1.ContainerStateTerminated // latest run
	prevTerm             *v1.ContainerStateTerminated
	wantStart            bool
	nextStart            time.Time
	backoff              time.Duration // next back-off delay
	delay                time.Duration // current back-off delay
	waitReason, waitMsg  string
	containerID, imageID string
	ready, started       bool
	stopProbes           context.CancelFunc
	probeEnv             *probeEnv
}

type podWorker struct {
	a                    *agent
	uid                  types.UID
	ns, name, node, dir  string
	mu                   sync.Mutex // guards pod, gone, and ctr.proc/ctr.runs for the log server
	pod                  *v1.Pod
	gone                 bool
	wake                 chan struct{}
	probeCh              chan probeResult
	ip                   string
	ipHeld               bool
	setupErr             string // why the sandbox is not ready (shown in waiting messages)
	sandboxReady         bool
	nextSetup, nextFresh time.Time
	volPaths, volHash    map[string]string
	tokens               map[string]cachedToken
	inits, ctrs          []*ctr
	startTime            metav1.Time
	initialized          bool
	final                v1.PodPhase // terminal phase once decided
	readOnly             bool        // adopted an already terminal pod: never touch its status
	anyRan               bool
	done                 bool // terminal phase reached and containers stopped
	deleting             bool
	reason, message      string
	lastSent             *v1.PodStatus
	lastSentAt           time.Time
	pushAfter            time.Time // status update back-off while the API server is unreachable
	pushDelay            time.Duration
}

func newPodWorker(a *agent, pod *v1.Pod) *podWorker {
	w := &podWorker{a: a, uid: pod.UID, ns: pod.Namespace, name: pod.Name, node: pod.Spec.NodeName,
		dir:  filepath.Join(a.cfg.stateDir, "pods", fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID)),
		wake: make(chan struct{}, 1), probeCh: make(chan probeResult, 16),
		volPaths: map[string]string{}, volHash: map[string]string{}, tokens: map[string]cachedToken{},
		startTime: nowTime()}
	if pod.Status.StartTime != nil {
		w.startTime = *pod.Status.StartTime
	}
	w.ip = pod.Status.PodIP
	if p := pod.Status.Phase; p == v1.PodSucceeded || p == v1.PodFailed {
		w.final, w.readOnly, w.done = p, true, true
	} else if w.ip != "" && !pod.Spec.HostNetwork { // agent restart: keep the address (claimed before new pods get theirs)
		w.ipHeld = a.ips.reserve(w.ip)
	}
	mk := func(spec v1.Container, init bool, old []v1.ContainerStatus) *ctr {
		c := &ctr{spec: spec, init: init, wantStart: true, backoff: backoffInitial}
		c.sidecar = init && spec.RestartPolicy != nil && *spec.RestartPolicy == v1.ContainerRestartPolicyAlways
		for _, s := range old { // agent restart: carry restart counts and completed init containers over
			if s.Name != spec.Name || w.readOnly || s.ContainerID == "" {
				continue
			}
			c.restarts, c.containerID = s.RestartCount, s.ContainerID
			t := s.State.Terminated
			if t == nil && s.State.Waiting != nil {
				t = s.LastTerminationState.Terminated // was in back-off
			}
			if t == nil {
				t = &v1.ContainerStateTerminated{ExitCode: 137, Reason: "Unknown", Message: "container lost: herd-node-agent restarted", FinishedAt: nowTime()}
			}
			w.afterExit(pod, c, t, false)
		}
		return c
	}
	for _, s := range pod.Spec.InitContainers {
		w.inits = append(w.inits, mk(s, true, pod.Status.InitContainerStatuses))
	}
	for _, s := range pod.Spec.Containers {
		w.ctrs = append(w.ctrs, mk(s, false, pod.Status.ContainerStatuses))
	}
	return w
}

func (w *podWorker) log() *slog.Logger { return slog.With("pod", w.ns+"/"+w.name, "node", w.node) }

func (w *podWorker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *podWorker) update(pod *v1.Pod, gone bool) {
	w.mu.Lock()
	w.pod, w.gone = pod, w.gone || gone
	w.mu.Unlock()
	w.poke()
}

func (w *podWorker) event(c *ctr, typ, reason, format string, args ...interface{}) {
	ref := &v1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: w.ns, Name: w.name, UID: w.uid}
	if c != nil {
		ref.FieldPath = fmt.Sprintf("spec.containers{%s}", c.spec.Name)
		if c.init {
			ref.FieldPath = fmt.Sprintf("spec.initContainers{%s}", c.spec.Name)
		}
	}
	if n := w.a.nodeByNm[w.node]; n != nil && n.recorder != nil {
		n.recorder.Eventf(ref, typ, reason, format, args...)
	}
}

func (w *podWorker) run() {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-w.a.ctx.Done():
			w.stopAll(w.a.cfg.shutdownGrace)
			return
		case r := <-w.probeCh:
			w.applyProbe(r)
		case <-w.wake:
		case <-tick.C:
		}
		if w.sync() {
			return
		}
	}
}

// sync moves the pod one step towards its desired state; true means the worker is done.
func (w *podWorker) sync() (done bool) {
	defer func() {
		if r := recover(); r != nil { // a bad pod spec must not take the agent down
			w.log().Error("pod sync panicked", "panic", r)
		}
	}()
	w.mu.Lock()
	pod, gone := w.pod, w.gone
	w.mu.Unlock()
	ctx := w.a.ctx
	if gone {
		w.log().Info("pod object deleted, stopping its containers")
		w.stopAll(2 * time.Second)
		w.release()
		w.removeRuntime()
		return true
	}
	if pod.DeletionTimestamp != nil {
		w.terminate(pod)
		return true
	}
	if w.done {
		w.pushStatus(pod)
		return false
	}
	w.reap(pod)
	if !w.sandboxReady && !w.setup(ctx, pod) {
		w.pushStatus(pod)
		return false
	}
	if ads := pod.Spec.ActiveDeadlineSeconds; ads != nil && time.Since(w.startTime.Time) > time.Duration(*ads)*time.Second {
		w.reason, w.message = "DeadlineExceeded", "Pod was active on the node longer than the specified deadline"
		w.final = v1.PodFailed
		w.event(nil, v1.EventTypeNormal, "DeadlineExceeded", "%s", w.message)
	}
	if w.final == "" {
		if ph := w.phase(pod); ph == v1.PodSucceeded || ph == v1.PodFailed {
			w.final = ph
		}
	}
	if w.final != "" {
		w.pushStatus(pod)
		w.stopAll(gracePeriod(pod.Spec.TerminationGracePeriodSeconds))
		w.reap(pod)
		w.release()
		w.done = true
		w.log().Info("pod finished", "phase", w.final, "reason", w.reason)
		w.pushStatus(pod)
		return false
	}
	w.startContainers(ctx, pod)
	if time.Now().After(w.nextFresh) {
		w.nextFresh = time.Now().Add(refreshEvery)
		w.refreshVolumes(ctx, pod)
	}
	w.pushStatus(pod)
	return false
}

func gracePeriod(s *int64) time.Duration {
	if s == nil {
		return 30 * time.Second
	}
	return time.Duration(*s) * time.Second
}

// setup allocates the pod IP and materialises the volumes ("the sandbox").
func (w *podWorker) setup(ctx context.Context, pod *v1.Pod) bool {
	if time.Now().Before(w.nextSetup) {
		return false
	}
	if pod.Spec.HostNetwork {
		w.ip = "127.0.0.1"
	} else if !w.ipHeld {
		if w.ip == "" && !w.a.podsSynced() {
			return false // let the pods of a previous agent run claim their addresses first
		}
		ip, err := w.a.ips.allocate(w.ip)
		if err != nil {
			w.log().Error("no pod IP", "err", err)
			w.nextSetup = time.Now().Add(5 * time.Second)
			return false
		}
		w.ip, w.ipHeld = ip, true
	}
	for _, d := range []string{"home", "volumes", "root"} {
		_ = os.MkdirAll(filepath.Join(w.dir, d), 0o755)
	}
	if err := w.setupVolumes(ctx, pod); err != nil {
		if w.setupErr != err.Error() {
			w.log().Warn("volume setup failed", "err", err)
			w.event(nil, v1.EventTypeWarning, "FailedMount", "%v", err)
		}
		w.setupErr = err.Error()
		w.nextSetup = time.Now().Add(5 * time.Second)
		return false
	}
	w.sandboxReady, w.setupErr = true, ""
	w.nextFresh = time.Now().Add(refreshEvery)
	w.log().Info("pod sandbox ready", "ip", w.ip, "dir", w.dir)
	return true
}

func (w *podWorker) release() {
	if w.ipHeld {
		w.a.ips.release(w.ip)
		w.ipHeld = false
	}
}

func (w *podWorker) all() []*ctr { return append(append([]*ctr(nil), w.inits...), w.ctrs...) }

func (w *podWorker) startContainers(ctx context.Context, pod *v1.Pod) {
	now := time.Now()
	due := func(c *ctr) bool { return c.proc == nil && c.wantStart && !now.Before(c.nextStart) }
	for _, c := range w.inits {
		if due(c) {
			w.start(ctx, pod, c)
		}
		if c.sidecar && c.proc != nil && c.started {
			continue
		}
		if !c.sidecar && !c.wantStart && c.term != nil && c.term.ExitCode == 0 {
			continue
		}
		return
	}
	if !w.initialized {
		w.initialized = true
	}
	for _, c := range w.ctrs {
		if due(c) {
			w.start(ctx, pod, c)
		}
	}
}

// start runs one container: env, fake root, argv, process, memory watch, probes.
func (w *podWorker) start(ctx context.Context, pod *v1.Pod, c *ctr) {
	wait := func(reason, msg string, retry time.Duration) {
		if c.waitReason != reason || c.waitMsg != msg {
			w.event(c, v1.EventTypeWarning, "Failed", "Error: %s: %s", reason, msg)
			w.log().Warn("container cannot start", "container", c.spec.Name, "reason", reason, "msg", msg)
		}
		c.waitReason, c.waitMsg, c.nextStart = reason, msg, time.Now().Add(retry)
	}
	env, err := w.containerEnv(ctx, pod, &c.spec)
	if err != nil {
		wait("CreateContainerConfigError", err.Error(), 2*time.Second)
		return
	}
	root, maps, err := w.prepareRoot(&c.spec, env)
	if err != nil {
		wait("CreateContainerError", err.Error(), 2*time.Second)
		return
	}
	for k, v := range env {
		env[k] = rewritePaths(v, maps)
	}
	env["HERD_POD_IP"], env["HERD_FS_ROOT"] = w.ip, root
	xform := func(in []string) []string {
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = rewritePaths(expand(s, mapLookup(env)), maps)
		}
		return out
	}
	cwd := containerDir(c.spec.WorkingDir, root, maps)
	entry, mapped := w.a.images.lookup(c.spec.Image)
	argv, errImage, err := resolveArgv(xform(c.spec.Command), xform(c.spec.Args), entry, mapped, env["PATH"], cwd)
	if errImage {
		wait("ErrImagePull", fmt.Sprintf("image %q has no --image-map entry (and the container has no command)", c.spec.Image), 5*time.Second)
		return
	}
	logPath := filepath.Join(w.dir, c.spec.Name+".log")
	var offset int64
	if fi, err := os.Stat(logPath); err == nil {
		offset = fi.Size()
	}
	if c.waitReason == "ErrImagePull" || c.term == nil {
		w.event(c, v1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.spec.Image)
	}
	c.waitReason, c.waitMsg = "", ""
	if c.term != nil {
		c.restarts++
	}
	c.runID++
	w.anyRan = true
	var p *proc
	if err == nil {
		c.imageID = "herd://" + argv[0]
		p, err = startProc(argv, envList(env), cwd, logPath, "HERD_FS_ROOT="+root, w.poke)
	}
	if err != nil {
		w.event(c, v1.EventTypeWarning, "Failed", "Error: failed to start container %q: %v", c.spec.Name, err)
		w.log().Warn("container start failed", "container", c.spec.Name, "err", err)
		t := nowTime()
		w.afterExit(pod, c, &v1.ContainerStateTerminated{ExitCode: 128, Reason: "StartError", Message: err.Error(), StartedAt: t, FinishedAt: t}, true)
		return
	}
	w.mu.Lock()
	c.proc, c.runs = p, append(c.runs, offset)
	w.mu.Unlock()
	c.containerID = fmt.Sprintf("herd://%d", p.pid)
	c.ready, c.started = c.spec.ReadinessProbe == nil, c.spec.StartupProbe == nil
	if lim := c.spec.Resources.Limits.Memory(); lim != nil && !lim.IsZero() {
		w.a.mem.watch(p.pid, lim.Value(), func() { p.oom.Store(true) })
	}
	w.startProbes(pod, c, env, maps, cwd)
	w.event(c, v1.EventTypeNormal, "Created", "Created container: %s", c.spec.Name)
	w.event(c, v1.EventTypeNormal, "Started", "Started container %s", c.spec.Name)
	w.log().Info("container started", "container", c.spec.Name, "pid", p.pid, "argv", argv, "restarts", c.restarts)
}

// containerDir maps workingDir: through the mounts, else as is if it exists, else under the fake root.
func containerDir(wd, root string, maps []pathMap) string {
	if wd == "" {
		return root
	}
	if r := rewritePaths(wd, maps); r != wd {
		return r
	}
	if fi, err := os.Stat(wd); err == nil && fi.IsDir() {
		return wd
	}
	d := filepath.Join(root, wd)
	_ = os.MkdirAll(d, 0o755)
	return d
}

// reap records the exit of finished processes.
func (w *podWorker) reap(pod *v1.Pod) {
	for _, c := range w.all() {
		p := c.proc
		if p == nil || !p.exited() {
			continue
		}
		w.a.mem.unwatch(p.pid)
		if c.stopProbes != nil {
			c.stopProbes()
		}
		w.mu.Lock()
		c.proc = nil
		w.mu.Unlock()
		t := &v1.ContainerStateTerminated{ExitCode: int32(p.exitCode), Reason: "Completed",
			StartedAt: metav1.NewTime(p.started.Truncate(time.Second)), FinishedAt: metav1.NewTime(p.finished.Truncate(time.Second)), ContainerID: c.containerID}
		if p.exitCode != 0 {
			t.Reason = "Error"
		}
		if p.oom.Load() {
			t.Reason, t.ExitCode = "OOMKilled", 137
			w.event(c, v1.EventTypeWarning, "OOMKilling", "Memory limit exceeded: container %s was killed", c.spec.Name)
		}
		t.Message = w.termMessage(c, p.exitCode)
		if p.finished.Sub(p.started) > time.Minute {
			c.backoff = backoffInitial
		}
		w.log().Info("container exited", "container", c.spec.Name, "pid", p.pid, "exitCode", t.ExitCode, "reason", t.Reason)
		w.afterExit(pod, c, t, true)
	}
}

// afterExit records a terminated run and applies the restart policy.
func (w *podWorker) afterExit(pod *v1.Pod, c *ctr, t *v1.ContainerStateTerminated, backoff bool) {
	c.prevTerm, c.term, c.ready, c.started = c.term, t, false, false
	policy := pod.Spec.RestartPolicy
	restart := policy == v1.RestartPolicyAlways || (policy == v1.RestartPolicyOnFailure && t.ExitCode != 0)
	switch {
	case w.final != "" || w.deleting:
		restart = false
	case c.sidecar:
		restart = true
	case c.init && t.ExitCode == 0:
		restart = false
	case c.init:
		restart = policy != v1.RestartPolicyNever
		if !restart {
			w.final, w.reason = v1.PodFailed, ""
		}
	}
	c.wantStart = restart
	if restart && backoff {
		c.delay = c.backoff
		c.nextStart = time.Now().Add(c.delay)
		w.event(c, v1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s", c.spec.Name, pod.Name)
		c.backoff = min(2*c.backoff, backoffMax)
	}
}

// termMessage reads the termination message file (or the log tail with FallbackToLogsOnError).
func (w *podWorker) termMessage(c *ctr, exit int) string {
	b, _, _ := readSegment(filepath.Join(w.dir, "term", c.spec.Name), 0, -1, maxTermMessage, true)
	if strings.TrimSpace(string(b)) == "" && exit != 0 && c.spec.TerminationMessagePolicy == v1.TerminationMessageFallbackToLogsOnError {
		w.mu.Lock()
		start := c.runs[len(c.runs)-1]
		w.mu.Unlock()
		b, _, _ = readSegment(filepath.Join(w.dir, c.spec.Name+".log"), start, -1, 2048, false)
		b = tailLines(b, 80)
	}
	return string(b)
}

// phase computes the pod phase like the kubelet.
func (w *podWorker) phase(pod *v1.Pod) v1.PodPhase {
	if w.final != "" {
		return w.final
	}
	if !w.initialized {
		return v1.PodPending
	}
	var waiting, running, stopped, succeeded int
	for _, c := range w.ctrs {
		switch {
		case c.proc != nil:
			running++
		case c.term != nil:
			stopped++
			if !c.wantStart && c.term.ExitCode == 0 {
				succeeded++
			}
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0:
		return v1.PodPending
	case running > 0:
		return v1.PodRunning
	case pod.Spec.RestartPolicy == v1.RestartPolicyAlways:
		return v1.PodRunning
	case succeeded == stopped:
		return v1.PodSucceeded
	case pod.Spec.RestartPolicy == v1.RestartPolicyNever:
		return v1.PodFailed
	}
	return v1.PodRunning
}

func (w *podWorker) stopAll(grace time.Duration) {
	var procs []*proc
	for _, c := range w.all() {
		if c.proc != nil {
			procs = append(procs, c.proc)
			if w.a.ctx.Err() == nil {
				w.event(c, v1.EventTypeNormal, "Killing", "Stopping container %s", c.spec.Name)
			}
		}
	}
	if len(procs) > 0 {
		w.log().Info("stopping containers", "count", len(procs), "grace", grace)
		var abort <-chan struct{}
		if w.a.ctx.Err() == nil {
			abort = w.a.ctx.Done() // agent shutdown cuts long grace periods short
		}
		stopProcs(procs, grace, abort)
	}
}

// terminate handles a deletionTimestamp: stop, report a terminal status, clean up,
// and remove the object (grace 0, UID precondition) like the kubelet.
func (w *podWorker) terminate(pod *v1.Pod) {
	w.deleting = true
	w.stopAll(gracePeriod(pod.DeletionGracePeriodSeconds))
	w.reap(pod)
	if w.anyRan && w.final == "" {
		w.final = v1.PodSucceeded
		for _, c := range w.ctrs {
			if c.term == nil || c.term.ExitCode != 0 {
				w.final = v1.PodFailed
			}
		}
	}
	if w.anyRan {
		w.pushStatus(pod)
	}
	w.release()
	w.removeRuntime()
	ctx := w.a.ctx
	zero := int64(0)
	opts := metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &w.uid}}
	for i := 0; i < 5 && ctx.Err() == nil; i++ {
		err := w.a.client.CoreV1().Pods(w.ns).Delete(ctx, w.name, opts)
		if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			w.a.mu.Lock()
			w.a.finished[w.uid] = true
			w.a.mu.Unlock()
			w.log().Info("pod deleted")
			return
		}
		w.log().Warn("pod delete failed", "err", err)
		sleepCtx(ctx, time.Second)
	}
}

func nowTime() metav1.Time { return metav1.NewTime(time.Now().Truncate(time.Second)) }

func (c *ctr) status(defaultWait, waitMsg string) v1.ContainerStatus {
	running := c.proc != nil
	started := running && c.started
	s := v1.ContainerStatus{Name: c.spec.Name, Image: c.spec.Image, ImageID: c.imageID, ContainerID: c.containerID,
		RestartCount: c.restarts, Ready: running && c.ready, Started: &started}
	switch {
	case running:
		s.State.Running = &v1.ContainerStateRunning{StartedAt: metav1.NewTime(c.proc.started.Truncate(time.Second))}
		s.LastTerminationState.Terminated = c.term
	case c.waitReason != "":
		s.State.Waiting = &v1.ContainerStateWaiting{Reason: c.waitReason, Message: c.waitMsg}
		s.LastTerminationState.Terminated = c.term
	case c.term != nil && c.wantStart:
		s.State.Waiting = &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container=%s", c.delay, c.spec.Name)}
		s.LastTerminationState.Terminated = c.term
	case c.term != nil:
		s.State.Terminated = c.term
		s.LastTerminationState.Terminated = c.prevTerm
	default:
		s.State.Waiting = &v1.ContainerStateWaiting{Reason: defaultWait, Message: waitMsg}
	}
	return s
}

// buildStatus overlays the fields the agent owns on the server's status.
func (w *podWorker) buildStatus(pod *v1.Pod) v1.PodStatus {
	s := *pod.Status.DeepCopy()
	s.Phase, s.Reason, s.Message = w.phase(pod), w.reason, w.message
	s.HostIP, s.HostIPs = "127.0.0.1", []v1.HostIP{{IP: "127.0.0.1"}}
	if w.ip != "" && (w.sandboxReady || s.PodIP != "") {
		s.PodIP, s.PodIPs = w.ip, []v1.PodIP{{IP: w.ip}}
	}
	if s.StartTime == nil {
		st := w.startTime
		s.StartTime = &st
	}
	s.ObservedGeneration = pod.Generation
	terminal := s.Phase == v1.PodSucceeded || s.Phase == v1.PodFailed
	var pendingInit, unready []string
	s.InitContainerStatuses, s.ContainerStatuses = nil, nil
	for _, c := range w.inits {
		cs := c.status("PodInitializing", w.setupErr)
		if !w.initialized && !(cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0) {
			pendingInit = append(pendingInit, c.spec.Name)
		}
		s.InitContainerStatuses = append(s.InitContainerStatuses, cs)
	}
	for _, c := range w.ctrs {
		def := "ContainerCreating"
		if !w.initialized && len(w.inits) > 0 {
			def = "PodInitializing"
		}
		cs := c.status(def, w.setupErr)
		if !cs.Ready {
			unready = append(unready, c.spec.Name)
		}
		s.ContainerStatuses = append(s.ContainerStatuses, cs)
	}
	cond := func(t v1.PodConditionType, ok bool, reason, msg string) {
		st := v1.ConditionFalse
		if ok {
			st, reason, msg = v1.ConditionTrue, "", ""
		}
		nc := v1.PodCondition{Type: t, Status: st, Reason: reason, Message: msg, LastTransitionTime: nowTime(), ObservedGeneration: pod.Generation}
		for i, old := range s.Conditions {
			if old.Type == t {
				if old.Status == st {
					nc.LastTransitionTime = old.LastTransitionTime
				}
				s.Conditions[i] = nc
				return
			}
		}
		s.Conditions = append(s.Conditions, nc)
	}
	cond(v1.PodReadyToStartContainers, w.sandboxReady && !terminal, "", "")
	cond(v1.PodInitialized, len(pendingInit) == 0, "ContainersNotInitialized", fmt.Sprintf("containers with incomplete status: %v", pendingInit))
	ready, reason, msg := len(unready) == 0 && !terminal, "ContainersNotReady", fmt.Sprintf("containers with unready status: %v", unready)
	if terminal {
		reason, msg = "PodCompleted", ""
	}
	cond(v1.ContainersReady, ready, reason, msg)
	for _, g := range pod.Spec.ReadinessGates {
		found := false
		for _, c := range s.Conditions {
			found = found || (c.Type == g.ConditionType && c.Status == v1.ConditionTrue)
		}
		if !found && ready {
			ready, reason, msg = false, "ReadinessGatesNotReady", fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist or is not true", g.ConditionType)
		}
	}
	cond(v1.PodReady, ready, reason, msg)
	return s
}

// pushStatus writes the status through pods/status when it differs from the server's.
func (w *podWorker) pushStatus(pod *v1.Pod) {
	if w.readOnly || time.Now().Before(w.pushAfter) {
		return
	}
	want := w.buildStatus(pod)
	if apiequality.Semantic.DeepEqual(want, pod.Status) ||
		(w.lastSent != nil && time.Since(w.lastSentAt) < 2*time.Second && apiequality.Semantic.DeepEqual(want, *w.lastSent)) {
		return
	}
	ctx, pods, first := w.a.ctx, w.a.client.CoreV1().Pods(w.ns), true
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur := pod
		if !first {
			var err error
			if cur, err = pods.Get(ctx, w.name, metav1.GetOptions{}); err != nil {
				return err
			}
			if cur.UID != w.uid {
				return apierrors.NewNotFound(v1.Resource("pods"), w.name)
			}
		}
		first = false
		up := cur.DeepCopy()
		up.Status = w.buildStatus(cur)
		_, err := pods.UpdateStatus(ctx, up, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		if !apierrors.IsNotFound(err) && ctx.Err() == nil {
			w.pushDelay = min(max(2*w.pushDelay, time.Second), backoffMax)
			w.pushAfter = time.Now().Add(w.pushDelay)
			w.log().Warn("status update failed", "err", err, "retryIn", w.pushDelay)
		}
		return
	}
	w.lastSent, w.lastSentAt, w.pushDelay = &want, time.Now(), 0
}
