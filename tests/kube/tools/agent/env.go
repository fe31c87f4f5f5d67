package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// expand does the kubelet's $(VAR) expansion: $(VAR) is replaced when VAR is
// defined, left as is otherwise; $$ becomes $.
func expand(in string, lookup func(string) (string, bool)) string {
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		if in[i] != '$' || i+1 == len(in) {
			b.WriteByte(in[i])
			continue
		}
		switch in[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(in[i+2:], ')')
			if end < 0 {
				b.WriteString("$(")
				i++
				continue
			}
			name := in[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// pathMap maps a container path (a mount path or the termination message path)
// to the materialised host path.
type pathMap struct{ from, to string }

const (
	pathBefore = "='\" \t\n:<>(,;|&`@"
	pathAfter  = "/'\" \t\n:<>),;|&`"
)

// rewritePaths replaces each mapped path used as a path prefix: preceded by the
// start, whitespace, a quote or one of = : < > ( , ; | & ` @ and followed by the
// end, '/', whitespace, a quote or one of : < > ) , ; | & `.
// Longer container paths win over shorter ones.
func rewritePaths(s string, maps []pathMap) string {
	if len(maps) == 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if i == 0 || strings.IndexByte(pathBefore, s[i-1]) >= 0 {
			matched := false
			for _, m := range maps {
				if n := len(m.from); strings.HasPrefix(s[i:], m.from) && (i+n == len(s) || strings.IndexByte(pathAfter, s[i+n]) >= 0) {
					b.WriteString(m.to)
					i += n
					matched = true
					break
				}
			}
			if matched {
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// sortPathMaps orders maps longest container path first and drops "/".
func sortPathMaps(maps []pathMap) []pathMap {
	out := maps[:0]
	for _, m := range maps {
		if m.from = strings.TrimRight(m.from, "/"); m.from != "" {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].from) > len(out[j].from) })
	return out
}

// fieldValue resolves a downward-API field path.
func fieldValue(pod *v1.Pod, path, podIP string) (string, error) {
	if strings.HasPrefix(path, "metadata.labels['") && strings.HasSuffix(path, "']") {
		return pod.Labels[path[len("metadata.labels['"):len(path)-2]], nil
	}
	if strings.HasPrefix(path, "metadata.annotations['") && strings.HasSuffix(path, "']") {
		return pod.Annotations[path[len("metadata.annotations['"):len(path)-2]], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return podIP, nil
	case "status.hostIP", "status.hostIPs":
		return "127.0.0.1", nil
	}
	return "", fmt.Errorf("unsupported fieldRef %q", path)
}

func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q\n", k, m[k])
	}
	return b.String()
}

// resourceValue resolves a resourceFieldRef like the kubelet (unset limits → node allocatable).
func resourceValue(pod *v1.Pod, ctrName string, rf *v1.ResourceFieldSelector) (string, error) {
	var c *v1.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == ctrName {
			c = &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == ctrName {
			c = &pod.Spec.InitContainers[i]
		}
	}
	if c == nil {
		return "", fmt.Errorf("resourceFieldRef: no container %q", ctrName)
	}
	kind, name, _ := strings.Cut(rf.Resource, ".")
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[v1.ResourceName(name)]
	if !ok {
		q = map[string]resource.Quantity{"cpu": resource.MustParse("16"), "memory": resource.MustParse("64Gi"),
			"ephemeral-storage": resource.MustParse("100Gi")}[name]
	}
	div := rf.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	if name == "cpu" {
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(div.MilliValue()))), 10), nil
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(div.Value()))), 10), nil
}

// containerEnv builds the container environment like the kubelet (envFrom, then
// env with $(VAR) expansion) plus PATH, HOME and HOSTNAME defaults. The caller
// rewrites the values and adds HERD_POD_IP and HERD_FS_ROOT.
func (w *podWorker) containerEnv(ctx context.Context, pod *v1.Pod, c *v1.Container) (map[string]string, error) {
	cfg := w.a.cfg
	env := map[string]string{
		"KUBERNETES_SERVICE_HOST": cfg.apiHost, "KUBERNETES_SERVICE_PORT": strconv.Itoa(cfg.apiPort),
		"KUBERNETES_SERVICE_PORT_HTTPS": strconv.Itoa(cfg.apiPort), "KUBERNETES_PORT": "tcp://" + hostPort(cfg.apiHost, cfg.apiPort),
	}
	core := w.a.client.CoreV1()
	for _, ef := range c.EnvFrom {
		data := map[string]string{}
		switch {
		case ef.ConfigMapRef != nil:
			cm, err := core.ConfigMaps(pod.Namespace).Get(ctx, ef.ConfigMapRef.Name, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) && isTrue(ef.ConfigMapRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("configmap %q: %v", ef.ConfigMapRef.Name, err)
			}
			data = cm.Data
		case ef.SecretRef != nil:
			s, err := core.Secrets(pod.Namespace).Get(ctx, ef.SecretRef.Name, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) && isTrue(ef.SecretRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("secret %q: %v", ef.SecretRef.Name, err)
			}
			for k, v := range s.Data {
				data[k] = string(v)
			}
		}
		for k, v := range data {
			if k != "" && !strings.Contains(k, "=") {
				env[ef.Prefix+k] = v
			}
		}
	}
	for _, e := range c.Env {
		v, err := w.envValue(ctx, pod, c, e, env)
		if err != nil {
			return nil, err
		}
		if v != nil {
			env[e.Name] = *v
		}
	}
	if _, ok := env["PATH"]; !ok {
		env["PATH"] = os.Getenv("PATH")
	}
	if _, ok := env["HOME"]; !ok {
		env["HOME"] = w.dir + "/home"
	}
	if _, ok := env["HOSTNAME"]; !ok {
		env["HOSTNAME"] = pod.Name
	}
	return env, nil
}

// envValue resolves one env entry; nil means "skip" (optional and missing).
func (w *podWorker) envValue(ctx context.Context, pod *v1.Pod, c *v1.Container, e v1.EnvVar, env map[string]string) (*string, error) {
	s := func(v string, err error) (*string, error) {
		if err != nil {
			return nil, err
		}
		return &v, nil
	}
	if e.ValueFrom == nil {
		return s(expand(e.Value, mapLookup(env)), nil)
	}
	core := w.a.client.CoreV1()
	switch vf := e.ValueFrom; {
	case vf.FieldRef != nil:
		return s(fieldValue(pod, vf.FieldRef.FieldPath, w.ip))
	case vf.ResourceFieldRef != nil:
		name := vf.ResourceFieldRef.ContainerName
		if name == "" {
			name = c.Name
		}
		return s(resourceValue(pod, name, vf.ResourceFieldRef))
	case vf.ConfigMapKeyRef != nil:
		r := vf.ConfigMapKeyRef
		cm, err := core.ConfigMaps(pod.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		if err == nil {
			if v, ok := cm.Data[r.Key]; ok {
				return &v, nil
			}
			err = fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", r.Key, pod.Namespace, r.Name)
		} else if !apierrors.IsNotFound(err) {
			return nil, err
		}
		if isTrue(r.Optional) {
			return nil, nil
		}
		return nil, err
	case vf.SecretKeyRef != nil:
		r := vf.SecretKeyRef
		sec, err := core.Secrets(pod.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		if err == nil {
			if v, ok := sec.Data[r.Key]; ok {
				return s(string(v), nil)
			}
			err = fmt.Errorf("couldn't find key %s in Secret %s/%s", r.Key, pod.Namespace, r.Name)
		} else if !apierrors.IsNotFound(err) {
			return nil, err
		}
		if isTrue(r.Optional) {
			return nil, nil
		}
		return nil, err
	}
	return nil, fmt.Errorf("env %s: unsupported valueFrom", e.Name)
}

func isTrue(b *bool) bool { return b != nil && *b }

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
