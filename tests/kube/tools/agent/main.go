// Command herd-node-agent stands in for kubelet + a container runtime in herd's
// single-machine test cluster: it registers N Node objects, keeps them Ready,
// and runs the containers of the pods bound to them as local processes.
// See tests/kube/AGENT.md for the flags and the mapping rules.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

type config struct {
	kubeconfig, stateDir, imageMap, pidFile, podIPBase string
	apiHost                                            string
	apiPort, nodes, kubeletPortBase                    int
	labels, taints                                     multiFlag
	shutdownGrace                                      time.Duration
}

type agent struct {
	cfg      config
	client   kubernetes.Interface
	nodes    []*node
	nodeByNm map[string]*node
	images   *imageMap
	ips      *ipAllocator
	mem      *memMonitor
	events   record.EventBroadcaster
	ctx      context.Context // cancelled on SIGTERM/SIGINT
	// podsSynced reports that the initial pod list reached the handlers.
	podsSynced func() bool

	mu       sync.Mutex
	pods     map[types.UID]*podWorker
	finished map[types.UID]bool // deletion finalised; ignore until the object is gone
	stopping bool
	wg       sync.WaitGroup
}

func main() {
	var c config
	flag.StringVar(&c.kubeconfig, "kubeconfig", "", "admin kubeconfig (required)")
	flag.StringVar(&c.stateDir, "state-dir", "", "folder for pod folders and logs (required)")
	flag.IntVar(&c.nodes, "nodes", 3, "number of nodes, named herd-node-0..N-1")
	flag.Var(&c.labels, "node-label", "NAME:key=value, NAME a node name, an index or * (repeatable)")
	flag.Var(&c.taints, "node-taint", "NAME:key[=value]:Effect (repeatable)")
	flag.StringVar(&c.imageMap, "image-map", "", "image map file (lines: IMAGE ENTRYPOINT [DEFAULT-ARGS...])")
	flag.StringVar(&c.apiHost, "apiserver-host", "", "KUBERNETES_SERVICE_HOST for pods (default: from the kubeconfig)")
	flag.IntVar(&c.apiPort, "apiserver-port", 0, "KUBERNETES_SERVICE_PORT for pods (default: from the kubeconfig)")
	flag.IntVar(&c.kubeletPortBase, "kubelet-port-base", 0, "log server port of node i is base+i (0: any free port)")
	flag.StringVar(&c.podIPBase, "pod-ip-base", "127.0.1.1", "first pod IP (pods get unique 127.x.y.z addresses from here)")
	flag.StringVar(&c.pidFile, "pid-file", "", "write the agent's PID here")
	flag.DurationVar(&c.shutdownGrace, "shutdown-grace", 3*time.Second, "SIGTERM-to-SIGKILL grace for containers on agent exit")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err := run(c); err != nil {
		slog.Error("herd-node-agent failed", "err", err)
		os.Exit(1)
	}
}

func run(c config) error {
	if c.kubeconfig == "" || c.stateDir == "" || c.nodes < 1 {
		return errors.New("--kubeconfig and --state-dir are required, --nodes must be >= 1")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return err
	}
	rc.QPS, rc.Burst, rc.UserAgent = 50, 100, "herd-node-agent"
	if u, err := url.Parse(rc.Host); err == nil {
		if c.apiHost == "" {
			c.apiHost = u.Hostname()
		}
		if c.apiPort == 0 {
			c.apiPort, _ = strconv.Atoi(u.Port())
			if c.apiPort == 0 {
				c.apiPort = 443
			}
		}
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	if c.stateDir, err = filepath.Abs(c.stateDir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(c.stateDir, "pods"), 0o755); err != nil {
		return err
	}
	ips, err := newIPAllocator(c.podIPBase)
	if err != nil {
		return err
	}
	nodes, err := buildNodes(c.nodes, c.labels, c.taints)
	if err != nil {
		return err
	}
	images := &imageMap{path: c.imageMap}
	if _, err := images.load(); err != nil {
		return err
	}
	if c.pidFile != "" {
		if err := os.WriteFile(c.pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return err
		}
		defer os.Remove(c.pidFile)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	a := &agent{cfg: c, client: client, nodes: nodes, nodeByNm: map[string]*node{}, images: images, ips: ips,
		mem: newMemMonitor(), ctx: ctx, pods: map[types.UID]*podWorker{}, finished: map[types.UID]bool{}}
	for _, n := range nodes {
		a.nodeByNm[n.name] = n
	}
	a.events = record.NewBroadcaster()
	a.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer a.events.Shutdown()
	for _, n := range nodes {
		n.recorder = a.events.NewRecorder(scheme.Scheme, v1.EventSource{Component: "kubelet", Host: n.name})
	}
	go a.mem.run(ctx)
	if err := a.startLogServers(ctx); err != nil {
		return err
	}
	for _, n := range nodes {
		go a.nodeLoop(ctx, n)
	}

	factory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName!=" }))
	inf := factory.Core().V1().Pods().Informer()
	reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    a.onPod,
		UpdateFunc: func(_, o interface{}) { a.onPod(o) },
		DeleteFunc: a.onPodDelete,
	})
	if err != nil {
		return err
	}
	a.podsSynced = reg.HasSynced
	factory.Start(ctx.Done())
	slog.Info("herd-node-agent running", "nodes", len(nodes), "state", c.stateDir, "apiserver", rc.Host, "pid", os.Getpid())
	<-ctx.Done()

	slog.Info("shutting down: stopping all containers")
	a.mu.Lock()
	a.stopping = true
	a.mu.Unlock()
	factory.Shutdown()
	a.wg.Wait()
	slog.Info("herd-node-agent stopped")
	return nil
}

func (a *agent) onPod(obj interface{}) {
	pod, ok := obj.(*v1.Pod)
	if !ok || a.nodeByNm[pod.Spec.NodeName] == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopping || a.finished[pod.UID] {
		return
	}
	w := a.pods[pod.UID]
	if w == nil {
		w = newPodWorker(a, pod)
		a.pods[pod.UID] = w
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			w.run()
			a.mu.Lock()
			delete(a.pods, pod.UID)
			a.mu.Unlock()
		}()
	}
	w.update(pod, false)
}

func (a *agent) onPodDelete(obj interface{}) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.finished, pod.UID)
	if w := a.pods[pod.UID]; w != nil {
		w.update(pod, true)
	}
}

// podByName finds the live worker of a pod (for the log server).
func (a *agent) podByName(node, ns, name string) *podWorker {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.pods {
		if w.node == node && w.ns == ns && w.name == name {
			return w
		}
	}
	return nil
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
