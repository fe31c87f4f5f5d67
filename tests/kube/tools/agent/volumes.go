package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fileData is one file of a generated (configMap, secret, downwardAPI, projected) volume.
type fileData struct {
	data []byte
	mode os.FileMode
}

type cachedToken struct {
	token        []byte
	fetched, exp time.Time
}

// setupVolumes materialises every volume of the pod under <poddir>/volumes.
func (w *podWorker) setupVolumes(ctx context.Context, pod *v1.Pod) error {
	for i := range pod.Spec.Volumes {
		vol := &pod.Spec.Volumes[i]
		dir := filepath.Join(w.dir, "volumes", vol.Name)
		switch {
		case vol.EmptyDir != nil:
			if err := os.MkdirAll(dir, 0o777); err != nil {
				return err
			}
		case vol.HostPath != nil:
			if err := checkHostPath(vol.HostPath); err != nil {
				return fmt.Errorf("hostPath volume %q: %v", vol.Name, err)
			}
			dir = vol.HostPath.Path
		case vol.ConfigMap != nil, vol.Secret != nil, vol.DownwardAPI != nil, vol.Projected != nil:
			if err := w.refreshVolume(ctx, pod, vol); err != nil {
				return err
			}
		case vol.PersistentVolumeClaim != nil:
			return fmt.Errorf("volume %q: persistentVolumeClaim volumes are not supported by herd-node-agent", vol.Name)
		default:
			return fmt.Errorf("volume %q: this volume type is not supported by herd-node-agent", vol.Name)
		}
		w.volPaths[vol.Name] = dir
	}
	return nil
}

// refreshVolumes rewrites generated volumes whose content changed (configMap updates, token rotation).
func (w *podWorker) refreshVolumes(ctx context.Context, pod *v1.Pod) {
	for i := range pod.Spec.Volumes {
		vol := &pod.Spec.Volumes[i]
		if vol.ConfigMap != nil || vol.Secret != nil || vol.DownwardAPI != nil || vol.Projected != nil {
			if err := w.refreshVolume(ctx, pod, vol); err != nil {
				w.log().Warn("volume refresh failed", "volume", vol.Name, "err", err)
			}
		}
	}
}

func (w *podWorker) refreshVolume(ctx context.Context, pod *v1.Pod, vol *v1.Volume) error {
	files, err := w.volumeFiles(ctx, pod, vol)
	if err != nil {
		return fmt.Errorf("volume %q: %v", vol.Name, err)
	}
	h := hashFiles(files)
	if w.volHash[vol.Name] == h {
		return nil
	}
	if err := writeAtomic(filepath.Join(w.dir, "volumes", vol.Name), files); err != nil {
		return fmt.Errorf("volume %q: %v", vol.Name, err)
	}
	w.volHash[vol.Name] = h
	return nil
}

func checkHostPath(hp *v1.HostPathVolumeSource) error {
	if !filepath.IsAbs(hp.Path) {
		return fmt.Errorf("path %q is not absolute", hp.Path)
	}
	fi, err := os.Stat(hp.Path)
	t := v1.HostPathUnset
	if hp.Type != nil {
		t = *hp.Type
	}
	switch t {
	case v1.HostPathDirectoryOrCreate:
		return os.MkdirAll(hp.Path, 0o755)
	case v1.HostPathFileOrCreate:
		if err != nil {
			return os.WriteFile(hp.Path, nil, 0o644)
		}
	case v1.HostPathDirectory:
		if err != nil || !fi.IsDir() {
			return fmt.Errorf("directory %q does not exist", hp.Path)
		}
	case v1.HostPathFile:
		if err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("file %q does not exist", hp.Path)
		}
	case v1.HostPathUnset:
	default:
		if err != nil {
			return fmt.Errorf("%q does not exist", hp.Path)
		}
	}
	return nil
}

func mode(m *int32, def os.FileMode) os.FileMode {
	if m != nil {
		return os.FileMode(*m) & 0o777
	}
	return def
}

func (w *podWorker) volumeFiles(ctx context.Context, pod *v1.Pod, vol *v1.Volume) (map[string]fileData, error) {
	files := map[string]fileData{}
	switch {
	case vol.ConfigMap != nil:
		s := vol.ConfigMap
		return files, w.keyFiles(ctx, pod.Namespace, "configmap", s.Name, s.Items, isTrue(s.Optional), mode(s.DefaultMode, 0o644), files)
	case vol.Secret != nil:
		s := vol.Secret
		return files, w.keyFiles(ctx, pod.Namespace, "secret", s.SecretName, s.Items, isTrue(s.Optional), mode(s.DefaultMode, 0o644), files)
	case vol.DownwardAPI != nil:
		return files, w.downwardFiles(pod, vol.DownwardAPI.Items, mode(vol.DownwardAPI.DefaultMode, 0o644), files)
	}
	def := mode(vol.Projected.DefaultMode, 0o644)
	for _, src := range vol.Projected.Sources {
		var err error
		switch {
		case src.ConfigMap != nil:
			err = w.keyFiles(ctx, pod.Namespace, "configmap", src.ConfigMap.Name, src.ConfigMap.Items, isTrue(src.ConfigMap.Optional), def, files)
		case src.Secret != nil:
			err = w.keyFiles(ctx, pod.Namespace, "secret", src.Secret.Name, src.Secret.Items, isTrue(src.Secret.Optional), def, files)
		case src.DownwardAPI != nil:
			err = w.downwardFiles(pod, src.DownwardAPI.Items, def, files)
		case src.ServiceAccountToken != nil:
			var tok []byte
			tok, err = w.token(ctx, pod, src.ServiceAccountToken)
			files[src.ServiceAccountToken.Path] = fileData{tok, def}
		default:
			err = fmt.Errorf("unsupported projected source")
		}
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

// keyFiles adds the keys of a ConfigMap or Secret (all, or the listed items).
func (w *podWorker) keyFiles(ctx context.Context, ns, kind, name string, items []v1.KeyToPath, optional bool, def os.FileMode, files map[string]fileData) error {
	data := map[string][]byte{}
	var err error
	if kind == "configmap" {
		var cm *v1.ConfigMap
		if cm, err = w.a.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
			for k, v := range cm.Data {
				data[k] = []byte(v)
			}
			for k, v := range cm.BinaryData {
				data[k] = v
			}
		}
	} else {
		var s *v1.Secret
		if s, err = w.a.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
			data = s.Data
		}
	}
	if err != nil {
		if apierrors.IsNotFound(err) && optional {
			return nil
		}
		return fmt.Errorf("%s %q: %v", kind, name, err)
	}
	if len(items) == 0 {
		for k, v := range data {
			files[k] = fileData{v, def}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return fmt.Errorf("%s %q has no key %q", kind, name, it.Key)
		}
		files[it.Path] = fileData{v, mode(it.Mode, def)}
	}
	return nil
}

func (w *podWorker) downwardFiles(pod *v1.Pod, items []v1.DownwardAPIVolumeFile, def os.FileMode, files map[string]fileData) error {
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = fieldValue(pod, it.FieldRef.FieldPath, w.ip)
		case it.ResourceFieldRef != nil:
			v, err = resourceValue(pod, it.ResourceFieldRef.ContainerName, it.ResourceFieldRef)
		}
		if err != nil {
			return err
		}
		files[it.Path] = fileData{[]byte(v), mode(it.Mode, def)}
	}
	return nil
}

// token returns a bound service account token, refreshed at 80% of its lifetime.
func (w *podWorker) token(ctx context.Context, pod *v1.Pod, p *v1.ServiceAccountTokenProjection) ([]byte, error) {
	exp := int64(3600)
	if p.ExpirationSeconds != nil {
		exp = *p.ExpirationSeconds
	}
	key := p.Audience + "|" + strconv.FormatInt(exp, 10)
	if t, ok := w.tokens[key]; ok && time.Now().Before(t.fetched.Add(t.exp.Sub(t.fetched)*8/10)) {
		return t.token, nil
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &exp,
		BoundObjectRef: &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}}}
	if p.Audience != "" {
		req.Spec.Audiences = []string{p.Audience}
	}
	tr, err := w.a.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("token for service account %q: %v", sa, err)
	}
	t := cachedToken{[]byte(tr.Status.Token), time.Now(), tr.Status.ExpirationTimestamp.Time}
	w.tokens[key] = t
	return t.token, nil
}

func hashFiles(files map[string]fileData) string {
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", k, files[k].mode, len(files[k].data))
		h.Write(files[k].data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeAtomic publishes files like the kubelet's atomic writer: a timestamped
// folder, a "..data" symlink swapped by rename, and top-level symlinks into it.
func writeAtomic(dir string, files map[string]fileData) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ts := "..data_" + strconv.FormatInt(time.Now().UnixNano(), 10)
	tops := map[string]bool{}
	for p, f := range files {
		clean := filepath.Clean(p)
		if filepath.IsAbs(clean) || clean == "." || strings.HasPrefix(clean, "..") {
			return fmt.Errorf("invalid path %q", p)
		}
		full := filepath.Join(dir, ts, clean)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, f.data, 0o600); err != nil {
			return err
		}
		if err := os.Chmod(full, f.mode); err != nil {
			return err
		}
		tops[strings.Split(clean, "/")[0]] = true
	}
	if err := os.MkdirAll(filepath.Join(dir, ts), 0o755); err != nil {
		return err
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	tmp := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(ts, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	for top := range tops {
		link := filepath.Join(dir, top)
		if _, err := os.Lstat(link); err != nil {
			if err := os.Symlink(filepath.Join("..data", top), link); err != nil {
				return err
			}
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if n := e.Name(); !strings.HasPrefix(n, "..") && !tops[n] && e.Type()&os.ModeSymlink != 0 {
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
	if old != "" && old != ts {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}

// prepareRoot builds the container's fake root <poddir>/root/<container>, where every
// mount path (and the termination message path) is a symlink to the materialised
// path, and returns the container-path → host-path rewrite table.
func (w *podWorker) prepareRoot(c *v1.Container, env map[string]string) (string, []pathMap, error) {
	root := filepath.Join(w.dir, "root", c.Name)
	_ = os.RemoveAll(root)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", nil, err
	}
	var maps []pathMap
	mounts := append([]v1.VolumeMount(nil), c.VolumeMounts...)
	sort.SliceStable(mounts, func(i, j int) bool { return len(mounts[i].MountPath) < len(mounts[j].MountPath) })
	for _, m := range mounts {
		src, ok := w.volPaths[m.Name]
		if !ok {
			return "", nil, fmt.Errorf("volumeMount %q: no such volume", m.Name)
		}
		sub := m.SubPath
		if m.SubPathExpr != "" {
			sub = expand(m.SubPathExpr, mapLookup(env))
		}
		if sub != "" {
			if clean := filepath.Clean(sub); filepath.IsAbs(clean) || strings.HasPrefix(clean, "..") {
				return "", nil, fmt.Errorf("volumeMount %q: invalid subPath %q", m.Name, sub)
			}
			src = filepath.Join(src, sub)
			if _, err := os.Stat(src); os.IsNotExist(err) {
				if err := os.MkdirAll(src, 0o777); err != nil {
					return "", nil, err
				}
			}
		}
		if err := w.rootLink(root, m.MountPath, src); err != nil {
			return "", nil, fmt.Errorf("volumeMount %q: %v", m.Name, err)
		}
		maps = append(maps, pathMap{m.MountPath, src})
	}
	tp := c.TerminationMessagePath
	if tp == "" {
		tp = "/dev/termination-log"
	}
	term := filepath.Join(w.dir, "term", c.Name)
	if err := os.MkdirAll(filepath.Dir(term), 0o755); err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(term, nil, 0o666); err != nil {
		return "", nil, err
	}
	if err := w.rootLink(root, tp, term); err != nil {
		return "", nil, err
	}
	maps = append(maps, pathMap{tp, term})
	return root, sortPathMaps(maps), nil
}

// rootLink makes root+path a symlink to target, refusing to write outside the pod folder
// (a mount nested in a hostPath mount gets no link, only the path rewriting).
func (w *podWorker) rootLink(root, path, target string) error {
	link := filepath.Join(root, filepath.Clean("/"+path))
	if link == root {
		return fmt.Errorf("cannot mount over /")
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return err
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(link))
	if err != nil {
		return err
	}
	if podDir, _ := filepath.EvalSymlinks(w.dir); !strings.HasPrefix(parent+"/", podDir+"/") {
		return nil
	}
	if fi, err := os.Lstat(link); err == nil {
		if fi.Mode()&os.ModeSymlink == 0 {
			return nil // a real file or folder (inside a volume): keep it, rely on rewriting
		}
		_ = os.Remove(link)
	}
	return os.Symlink(target, link)
}

// removeRuntime deletes everything of the pod folder but the logs.
func (w *podWorker) removeRuntime() {
	for _, d := range []string{"volumes", "root", "term", "home"} {
		_ = os.RemoveAll(filepath.Join(w.dir, d))
	}
}
