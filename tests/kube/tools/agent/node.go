package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
)

const (
	kubeletVersion  = "v1.36.3"
	leaseEvery      = 10 * time.Second
	nodeStatusEvery = 30 * time.Second
)

type node struct {
	name     string
	labels   map[string]string
	taints   []v1.Taint
	port     int // log server port, set by startLogServers
	uid      types.UID
	recorder record.EventRecorder
}

// buildNodes names the nodes and applies --node-label / --node-taint.
func buildNodes(n int, labels, taints []string) ([]*node, error) {
	nodes := make([]*node, n)
	for i := range nodes {
		name := fmt.Sprintf("herd-node-%d", i)
		nodes[i] = &node{name: name, labels: map[string]string{
			"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": runtime.GOARCH,
		}}
	}
	for _, s := range labels {
		targets, k, v, err := parseNodeLabel(s, nodes)
		if err != nil {
			return nil, err
		}
		for _, nd := range targets {
			nd.labels[k] = v
		}
	}
	for _, s := range taints {
		targets, t, err := parseNodeTaint(s, nodes)
		if err != nil {
			return nil, err
		}
		for _, nd := range targets {
			nd.taints = append(nd.taints, t)
		}
	}
	return nodes, nil
}

// selectNodes resolves NAME: "*", a node name, or a node index.
func selectNodes(name string, nodes []*node) ([]*node, error) {
	if name == "*" {
		return nodes, nil
	}
	for i, nd := range nodes {
		if nd.name == name || strconv.Itoa(i) == name {
			return []*node{nd}, nil
		}
	}
	return nil, fmt.Errorf("unknown node %q (have herd-node-0..%d, an index or *)", name, len(nodes)-1)
}

func parseNodeLabel(s string, nodes []*node) ([]*node, string, string, error) {
	name, kv, ok := strings.Cut(s, ":")
	if !ok {
		return nil, "", "", fmt.Errorf("--node-label %q: want NAME:key=value", s)
	}
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" {
		return nil, "", "", fmt.Errorf("--node-label %q: want NAME:key=value", s)
	}
	targets, err := selectNodes(name, nodes)
	return targets, k, v, err
}

func parseNodeTaint(s string, nodes []*node) ([]*node, v1.Taint, error) {
	var t v1.Taint
	name, rest, ok := strings.Cut(s, ":")
	i := strings.LastIndex(rest, ":")
	if !ok || i <= 0 {
		return nil, t, fmt.Errorf("--node-taint %q: want NAME:key[=value]:Effect", s)
	}
	t.Key, t.Value, _ = strings.Cut(rest[:i], "=")
	t.Effect = v1.TaintEffect(rest[i+1:])
	switch t.Effect {
	case v1.TaintEffectNoSchedule, v1.TaintEffectPreferNoSchedule, v1.TaintEffectNoExecute:
	default:
		return nil, t, fmt.Errorf("--node-taint %q: effect must be NoSchedule, PreferNoSchedule or NoExecute", s)
	}
	if t.Key == "" {
		return nil, t, fmt.Errorf("--node-taint %q: empty key", s)
	}
	targets, err := selectNodes(name, nodes)
	return targets, t, err
}

// nodeLoop registers the node, then renews its Lease and refreshes its status until ctx ends.
func (a *agent) nodeLoop(ctx context.Context, n *node) {
	for ctx.Err() == nil {
		if err := a.registerNode(ctx, n); err != nil {
			slog.Warn("node registration failed, retrying", "node", n.name, "err", err)
			sleepCtx(ctx, 2*time.Second)
			continue
		}
		break
	}
	lease, status := time.NewTicker(leaseEvery), time.NewTicker(nodeStatusEvery)
	defer lease.Stop()
	defer status.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-lease.C:
			if err := a.renewLease(ctx, n); err != nil && ctx.Err() == nil {
				slog.Warn("lease renewal failed", "node", n.name, "err", err)
			}
		case <-status.C:
			err := a.updateNodeStatus(ctx, n)
			if apierrors.IsNotFound(err) {
				err = a.registerNode(ctx, n)
			}
			if err != nil && ctx.Err() == nil {
				slog.Warn("node status update failed", "node", n.name, "err", err)
			}
		}
	}
}

func (a *agent) registerNode(ctx context.Context, n *node) error {
	nodes := a.client.CoreV1().Nodes()
	obj := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: n.labels}, Spec: v1.NodeSpec{Taints: n.taints}}
	created, err := nodes.Create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		err = retry.RetryOnConflict(retry.DefaultBackoff, func() error {
			cur, err := nodes.Get(ctx, n.name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if cur.Labels == nil {
				cur.Labels = map[string]string{}
			}
			for k, v := range n.labels {
				cur.Labels[k] = v
			}
			taints := append([]v1.Taint(nil), n.taints...)
			for _, t := range cur.Spec.Taints { // keep the node controllers' taints
				if strings.HasPrefix(t.Key, "node.kubernetes.io/") {
					taints = append(taints, t)
				}
			}
			cur.Spec.Taints, cur.Spec.Unschedulable = taints, false
			created, err = nodes.Update(ctx, cur, metav1.UpdateOptions{})
			return err
		})
	}
	if err != nil {
		return err
	}
	n.uid = created.UID
	if err := a.updateNodeStatus(ctx, n); err != nil {
		return err
	}
	slog.Info("node registered", "node", n.name, "logPort", n.port, "labels", n.labels, "taints", len(n.taints))
	return a.renewLease(ctx, n)
}

func (a *agent) updateNodeStatus(ctx context.Context, n *node) error {
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur, err := a.client.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.uid = cur.UID
		now := metav1.NewTime(time.Now())
		cond := func(t v1.NodeConditionType, s v1.ConditionStatus, reason, msg string) v1.NodeCondition {
			c := v1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
			for _, old := range cur.Status.Conditions {
				if old.Type == t && old.Status == s {
					c.LastTransitionTime = old.LastTransitionTime
				}
			}
			return c
		}
		res := v1.ResourceList{
			v1.ResourceCPU: resource.MustParse("16"), v1.ResourceMemory: resource.MustParse("64Gi"),
			v1.ResourcePods: resource.MustParse("110"), v1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
		}
		kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
		st := &cur.Status
		st.Capacity, st.Allocatable, st.Phase = res, res, v1.NodeRunning
		st.Conditions = []v1.NodeCondition{
			cond(v1.NodeMemoryPressure, v1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
			cond(v1.NodeDiskPressure, v1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
			cond(v1.NodePIDPressure, v1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
			cond(v1.NodeReady, v1.ConditionTrue, "KubeletReady", "herd-node-agent is posting ready status"),
		}
		st.Addresses = []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: "127.0.0.1"}, {Type: v1.NodeHostName, Address: n.name}}
		st.DaemonEndpoints.KubeletEndpoint.Port = int32(n.port)
		st.NodeInfo = v1.NodeSystemInfo{
			MachineID: n.name, SystemUUID: n.name, BootID: fmt.Sprintf("herd-%d", os.Getpid()),
			KernelVersion: strings.TrimSpace(string(kernel)), OSImage: "herd-node-agent", ContainerRuntimeVersion: "herd://0.1.0",
			KubeletVersion: kubeletVersion, OperatingSystem: "linux", Architecture: runtime.GOARCH,
		}
		_, err = a.client.CoreV1().Nodes().UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
}

func (a *agent) renewLease(ctx context.Context, n *node) error {
	leases := a.client.CoordinationV1().Leases(v1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	l, err := leases.Get(ctx, n.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		dur := int32(40)
		l = &coordv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: n.name, Namespace: v1.NamespaceNodeLease, OwnerReferences: []metav1.OwnerReference{
				{APIVersion: "v1", Kind: "Node", Name: n.name, UID: n.uid}}},
			Spec: coordv1.LeaseSpec{HolderIdentity: &n.name, LeaseDurationSeconds: &dur, RenewTime: &now},
		}
		_, err = leases.Create(ctx, l, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	l.Spec.RenewTime = &now
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
