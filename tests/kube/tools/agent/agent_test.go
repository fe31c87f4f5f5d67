package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestExpand(t *testing.T) {
	env := map[string]string{"VAR_A": "A", "VAR_B": "B", "EMPTY": ""}
	for in, want := range map[string]string{
		"$(VAR_A)":              "A",
		"___$(VAR_B)___":        "___B___",
		"$(VAR_A)-$(VAR_A)":     "A-A",
		"$(VAR_A)$(VAR_B)":      "AB",
		"$$(VAR_B)_$(VAR_A)":    "$(VAR_B)_A",
		"$(VAR_DNE)":            "$(VAR_DNE)",
		"$(VAR_A":               "$(VAR_A",
		"$$$$$$(VAR_A)":         "$$$(VAR_A)",
		"$$$$$$$(VAR_A)":        "$$$A",
		"f000-$$VAR_A":          "f000-$VAR_A",
		"$VAR_A":                "$VAR_A",
		"tail$":                 "tail$",
		"$()":                   "$()",
		"x$(EMPTY)y":            "xy",
		"sh -c 'echo $(VAR_B)'": "sh -c 'echo B'",
	} {
		if got := expand(in, mapLookup(env)); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRewritePaths(t *testing.T) {
	maps := sortPathMaps([]pathMap{
		{"/etc/cfg", "/s/vol/cfg"},
		{"/etc/cfg/deep", "/s/vol/deep"},
		{"/test/", "/s/vol/test"},
		{"/dev/termination-log", "/s/term/c"},
	})
	for in, want := range map[string]string{
		"/etc/cfg/greeting": "/s/vol/cfg/greeting",
		"/etc/cfg":          "/s/vol/cfg",
		"/etc/cfgx":         "/etc/cfgx",
		"/etc/cfg/deep/x":   "/s/vol/deep/x",
		"cat /etc/cfg/greeting > /dev/termination-log": "cat /s/vol/cfg/greeting > /s/term/c",
		"echo hi >/dev/termination-log":                "echo hi >/s/term/c",
		"--config=/etc/cfg/a.yaml":                     "--config=/s/vol/cfg/a.yaml",
		`"/test/script.js"`:                            `"/s/vol/test/script.js"`,
		"'/test/script.js'":                            "'/s/vol/test/script.js'",
		"x/etc/cfg/a":                                  "x/etc/cfg/a",
		"/opt/etc/cfg":                                 "/opt/etc/cfg",
		"PATH=/bin:/test:/usr/bin":                     "PATH=/bin:/s/vol/test:/usr/bin",
		"run /test/script.js; cat /etc/cfg/a|wc":       "run /s/vol/test/script.js; cat /s/vol/cfg/a|wc",
		"curl -d @/etc/cfg/body":                       "curl -d @/s/vol/cfg/body",
		"nothing here":                                 "nothing here",
	} {
		if got := rewritePaths(in, maps); got != want {
			t.Errorf("rewritePaths(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestImageKeys(t *testing.T) {
	for in, want := range map[string][]string{
		"ghcr.io/herd-dev/herd:0.1":   {"ghcr.io/herd-dev/herd:0.1", "ghcr.io/herd-dev/herd", "herd-dev/herd", "herd", "*"},
		"herd:latest":                 {"herd:latest", "herd", "herd", "*"},
		"busybox":                     {"busybox", "busybox", "busybox", "*"},
		"localhost:5000/x/busybox:1":  {"localhost:5000/x/busybox:1", "localhost:5000/x/busybox", "x/busybox", "busybox", "*"},
		"library/busybox@sha256:abcd": {"library/busybox@sha256:abcd", "library/busybox", "busybox", "*"},
	} {
		if got := imageKeys(in); !reflect.DeepEqual(got, want) {
			t.Errorf("imageKeys(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestImageMap(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "images")
	text := "# comment\nherd build/herd   # trailing comment\n\nbusybox /bin/sh -c true\nalpine - /bin/sh\n* /bin/false\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	im := &imageMap{path: file}
	if _, err := im.load(); err != nil {
		t.Fatal(err)
	}
	e, ok := im.lookup("ghcr.io/herd-dev/herd:0.1")
	if !ok || e.entrypoint != filepath.Join(dir, "build/herd") || len(e.args) != 0 {
		t.Errorf("herd → %+v %v", e, ok)
	}
	if e, _ := im.lookup("docker.io/library/busybox:1.36"); e.entrypoint != "/bin/sh" || !reflect.DeepEqual(e.args, []string{"-c", "true"}) {
		t.Errorf("busybox → %+v", e)
	}
	if e, _ := im.lookup("alpine:3"); e.entrypoint != "-" || !reflect.DeepEqual(e.args, []string{"/bin/sh"}) {
		t.Errorf("alpine → %+v", e)
	}
	if e, _ := im.lookup("nginx"); e.entrypoint != "/bin/false" {
		t.Errorf("default → %+v", e)
	}
	if _, err := parseImageMap(strings.NewReader("lonely\n"), dir); err == nil {
		t.Error("want an error for a line without entrypoint")
	}
}

func TestResolveArgv(t *testing.T) {
	dir := t.TempDir()
	herd := filepath.Join(dir, "herd")
	if err := os.WriteFile(herd, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := imageEntry{entrypoint: herd, args: []string{"--help"}}
	path := "/usr/bin:/bin"
	cases := []struct {
		cmd, args []string
		mapped    bool
		want      []string
		errImage  bool
		err       bool
	}{
		{nil, nil, true, []string{herd, "--help"}, false, false},
		{nil, []string{"run", "x.js"}, true, []string{herd, "run", "x.js"}, false, false},
		{[]string{"/usr/local/bin/herd", "run"}, []string{"x"}, true, []string{herd, "run", "x"}, false, false},
		{[]string{"sh", "-c", "true"}, nil, true, []string{"/usr/bin/sh", "-c", "true"}, false, false},
		{nil, nil, false, nil, true, false},
		{[]string{"no-such-command-herd"}, nil, true, nil, false, true},
		{nil, []string{"sh", "-c", "x"}, true, []string{"/usr/bin/sh", "-c", "x"}, false, false},
	}
	shOnly := imageEntry{entrypoint: "-", args: []string{"/bin/sh"}} // busybox: CMD ["sh"], no ENTRYPOINT
	for i, c := range cases {
		ent := e
		if i == len(cases)-1 {
			ent = shOnly
		}
		got, errImage, err := resolveArgv(c.cmd, c.args, ent, c.mapped, path, dir)
		if c.want != nil && got != nil && got[0] == "/bin/sh" { // usrmerge-less systems
			c.want[0] = "/bin/sh"
		}
		if errImage != c.errImage || (err != nil) != c.err || (c.want != nil && !reflect.DeepEqual(got, c.want)) {
			t.Errorf("resolveArgv(%q, %q) = %q, %v, %v", c.cmd, c.args, got, errImage, err)
		}
	}
}

func TestNodeFlags(t *testing.T) {
	nodes, err := buildNodes(3, []string{"*:herd.dev/pool=load", "herd-node-1:role=coordinator", "2:empty="},
		[]string{"herd-node-1:dedicated=coord:NoSchedule", "*:herd.dev/slow:PreferNoSchedule"})
	if err != nil {
		t.Fatal(err)
	}
	if nodes[0].labels["herd.dev/pool"] != "load" || nodes[1].labels["role"] != "coordinator" || nodes[0].labels["role"] != "" {
		t.Errorf("labels: %v / %v", nodes[0].labels, nodes[1].labels)
	}
	if v, ok := nodes[2].labels["empty"]; !ok || v != "" || nodes[2].labels["kubernetes.io/hostname"] != "herd-node-2" {
		t.Errorf("labels of node 2: %v", nodes[2].labels)
	}
	want := []v1.Taint{{Key: "dedicated", Value: "coord", Effect: v1.TaintEffectNoSchedule}, {Key: "herd.dev/slow", Effect: v1.TaintEffectPreferNoSchedule}}
	if !reflect.DeepEqual(nodes[1].taints, want) || len(nodes[0].taints) != 1 {
		t.Errorf("taints: %v / %v", nodes[1].taints, nodes[0].taints)
	}
	for _, bad := range [][2][]string{
		{{"nolabel"}, nil}, {{"herd-node-9:a=b"}, nil}, {{"*:novalue"}, nil},
		{nil, {"*:k=v:Sometimes"}}, {nil, {"*:NoSchedule"}}, {nil, {"*::NoSchedule"}},
	} {
		if _, err := buildNodes(3, bad[0], bad[1]); err == nil {
			t.Errorf("buildNodes(%q, %q): want an error", bad[0], bad[1])
		}
	}
}

func TestIPAllocator(t *testing.T) {
	a, err := newIPAllocator("127.0.1.254")
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for i := 0; i < 3; i++ {
		ip, err := a.allocate("")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ip)
	}
	if !reflect.DeepEqual(got, []string{"127.0.1.254", "127.0.2.1", "127.0.2.2"}) {
		t.Errorf("allocated %v", got)
	}
	a.release("127.0.2.1")
	if ip, _ := a.allocate(""); ip != "127.0.2.3" {
		t.Errorf("round-robin: a released address came back at once: %s", ip)
	}
	if ip, _ := a.allocate("127.0.9.9"); ip != "127.0.9.9" {
		t.Errorf("preferred: %s", ip)
	}
	if ip, _ := a.allocate("127.0.9.9"); ip == "127.0.9.9" {
		t.Error("preferred address handed out twice")
	}
	if ip, _ := a.allocate("127.0.0.1"); ip == "127.0.0.1" {
		t.Error("127.0.0.1 handed out")
	}
	if _, err := newIPAllocator("10.0.0.1"); err == nil {
		t.Error("want an error for a non-loopback base")
	}
}

func TestTailAndSegment(t *testing.T) {
	b := []byte("a\nb\nc\n")
	for n, want := range map[int]string{0: "", 1: "c\n", 2: "b\nc\n", 5: "a\nb\nc\n"} {
		if got := string(tailLines(b, n)); got != want {
			t.Errorf("tailLines(%d) = %q, want %q", n, got, want)
		}
	}
	if got := string(tailLines([]byte("x\ny"), 1)); got != "y" {
		t.Errorf("no final newline: %q", got)
	}
	f := filepath.Join(t.TempDir(), "log")
	_ = os.WriteFile(f, []byte("0123456789"), 0o644)
	if got, off, _ := readSegment(f, 2, 8, 3, false); string(got) != "567" || off != 8 {
		t.Errorf("tail segment %q %d", got, off)
	}
	if got, off, _ := readSegment(f, 2, -1, 3, true); string(got) != "234" || off != 5 {
		t.Errorf("head segment %q %d", got, off)
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	if err := writeAtomic(dir, map[string]fileData{"a": {[]byte("1"), 0o644}, "sub/b": {[]byte("2"), 0o600}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "sub/b")); string(b) != "2" {
		t.Errorf("sub/b = %q", b)
	}
	if err := writeAtomic(dir, map[string]fileData{"a": {[]byte("3"), 0o755}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a")); string(b) != "3" {
		t.Errorf("a = %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir, "sub")); !os.IsNotExist(err) {
		t.Error("stale entry sub kept")
	}
	if fi, _ := os.Stat(filepath.Join(dir, "a")); fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v", fi.Mode())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 { // ..data, ..data_<ts>, a
		t.Errorf("entries: %v", ents)
	}
	if err := writeAtomic(dir, map[string]fileData{"../x": {nil, 0o644}}); err == nil {
		t.Error("want an error for ../x")
	}
}

func TestFieldValue(t *testing.T) {
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1",
		Labels: map[string]string{"app": "herd", "b": "x\"y"}, Annotations: map[string]string{"a": "1"}},
		Spec: v1.PodSpec{NodeName: "herd-node-0", ServiceAccountName: "sa"}}
	for path, want := range map[string]string{
		"metadata.name": "p", "metadata.namespace": "ns", "metadata.uid": "u1", "metadata.labels['app']": "herd",
		"metadata.annotations['a']": "1", "spec.nodeName": "herd-node-0", "spec.serviceAccountName": "sa",
		"status.podIP": "127.0.1.5", "status.hostIP": "127.0.0.1", "metadata.labels": "app=\"herd\"\nb=\"x\\\"y\"\n",
	} {
		if got, err := fieldValue(pod, path, "127.0.1.5"); err != nil || got != want {
			t.Errorf("fieldValue(%s) = %q, %v", path, got, err)
		}
	}
	if _, err := fieldValue(pod, "spec.bogus", ""); err == nil {
		t.Error("want an error for an unknown field")
	}
}

func TestPhase(t *testing.T) {
	pod := &v1.Pod{Spec: v1.PodSpec{RestartPolicy: v1.RestartPolicyNever}}
	term := func(code int32) *v1.ContainerStateTerminated { return &v1.ContainerStateTerminated{ExitCode: code} }
	w := &podWorker{initialized: true, ctrs: []*ctr{{term: term(0)}, {term: term(1)}}}
	if p := w.phase(pod); p != v1.PodFailed {
		t.Errorf("Never with a failure: %s", p)
	}
	w.ctrs[1].term = term(0)
	if p := w.phase(pod); p != v1.PodSucceeded {
		t.Errorf("Never all ok: %s", p)
	}
	pod.Spec.RestartPolicy = v1.RestartPolicyAlways
	w.ctrs[0].wantStart = true
	if p := w.phase(pod); p != v1.PodRunning {
		t.Errorf("Always: %s", p)
	}
	w.ctrs = append(w.ctrs, &ctr{})
	if p := w.phase(pod); p != v1.PodPending {
		t.Errorf("waiting container: %s", p)
	}
}

// A container's processes all die with it, even one that left the session.
func TestStopProcsLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	marker := "HERD_FS_ROOT=" + dir + "/root/c"
	notified := make(chan struct{}, 1)
	p, err := startProc([]string{"/bin/sh", "-c", "trap '' TERM; setsid sleep 60 & sleep 60 & echo started; wait"},
		[]string{marker, "PATH=" + os.Getenv("PATH")}, dir, filepath.Join(dir, "c.log"), marker, func() { notified <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && countMarked(marker) < 3; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if n := countMarked(marker); n < 3 {
		t.Fatalf("%d marked processes, want 3", n)
	}
	stopProcs([]*proc{p}, 200*time.Millisecond, nil)
	<-notified
	if p.exitCode != 137 {
		t.Errorf("exit code %d, want 137 (SIGKILL after the grace)", p.exitCode)
	}
	time.Sleep(100 * time.Millisecond) // let init reap the killed orphans
	if n := countMarked(marker); n != 0 {
		t.Errorf("%d processes left behind", n)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "c.log")); string(b) != "started\n" {
		t.Errorf("log %q", b)
	}
}

func countMarked(marker string) int {
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		st, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err == nil && strings.Contains("\x00"+string(b), "\x00"+marker+"\x00") && !strings.Contains(string(st), ") Z ") {
			n++
		}
	}
	return n
}
