package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// imageEntry is what an image "contains": its ENTRYPOINT ("-": none) and default CMD.
type imageEntry struct {
	entrypoint string
	args       []string
}

// imageMap is the --image-map table, reloaded when the file changes.
type imageMap struct {
	path  string
	mu    sync.Mutex
	mtime time.Time
	m     map[string]imageEntry
}

// parseImageMap reads lines "IMAGE ENTRYPOINT [CMD...]"; '#' starts a comment.
// ENTRYPOINT "-" means none (a CMD-only image like busybox: "busybox - /bin/sh").
// A relative path containing '/' is resolved against dir.
func parseImageMap(r io.Reader, dir string) (map[string]imageEntry, error) {
	m := map[string]imageEntry{}
	sc := bufio.NewScanner(r)
	for ln := 1; sc.Scan(); ln++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 {
			return nil, fmt.Errorf("image map line %d: want IMAGE ENTRYPOINT [ARGS...]", ln)
		}
		for i, p := range f[1:] {
			if (i == 0 || (i == 1 && f[1] == "-")) && !filepath.IsAbs(p) && strings.Contains(p, "/") {
				f[i+1] = filepath.Join(dir, p) // the entrypoint, or CMD[0] of a CMD-only image
			}
		}
		m[f[0]] = imageEntry{entrypoint: f[1], args: f[2:]}
	}
	return m, sc.Err()
}

// load (re)reads the file if it changed; it reports whether the table is usable.
func (im *imageMap) load() (map[string]imageEntry, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.path == "" {
		return im.m, nil
	}
	fi, err := os.Stat(im.path)
	if err != nil {
		return im.m, err
	}
	if im.m != nil && fi.ModTime().Equal(im.mtime) {
		return im.m, nil
	}
	f, err := os.Open(im.path)
	if err != nil {
		return im.m, err
	}
	defer f.Close()
	dir, _ := filepath.Abs(filepath.Dir(im.path))
	m, err := parseImageMap(f, dir)
	if err != nil {
		return im.m, err
	}
	im.m, im.mtime = m, fi.ModTime()
	return m, nil
}

func (im *imageMap) lookup(image string) (imageEntry, bool) {
	m, _ := im.load()
	for _, k := range imageKeys(image) {
		if e, ok := m[k]; ok {
			return e, true
		}
	}
	return imageEntry{}, false
}

// imageKeys lists the names an image is looked up by, most specific first:
// the full reference, without tag/digest, without registry, the last path
// component, then "*". ghcr.io/herd-dev/herd:0.1 → ghcr.io/herd-dev/herd:0.1,
// ghcr.io/herd-dev/herd, herd-dev/herd, herd, *.
func imageKeys(image string) []string {
	keys := []string{image}
	repo := image
	if i := strings.Index(repo, "@"); i >= 0 {
		repo = repo[:i]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	keys = append(keys, repo)
	if first, rest, ok := strings.Cut(repo, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		repo = rest
		keys = append(keys, repo)
	}
	keys = append(keys, repo[strings.LastIndex(repo, "/")+1:], "*")
	return keys
}

// resolveArgv builds the process argv like a container runtime: command+args if
// there is a command, else ENTRYPOINT + (args or the image's CMD). argv[0] becomes the
// mapped executable (the ENTRYPOINT, or CMD[0] when ENTRYPOINT is "-") when its
// basename matches, else it is looked up on PATH. errImage is set when an unmapped
// image has no command.
func resolveArgv(command, args []string, e imageEntry, mapped bool, path, cwd string) (argv []string, errImage bool, err error) {
	exe := e.entrypoint
	if exe == "-" {
		exe = ""
		if len(e.args) > 0 {
			exe = e.args[0]
		}
	}
	argv = append(append([]string(nil), command...), args...)
	if len(command) == 0 {
		if !mapped {
			return nil, true, nil
		}
		if len(args) == 0 {
			args = e.args
		}
		argv = append([]string(nil), args...)
		if e.entrypoint != "-" {
			argv = append([]string{e.entrypoint}, args...)
		}
	}
	if len(argv) == 0 {
		return nil, false, fmt.Errorf("no command specified")
	}
	if mapped && exe != "" && filepath.Base(argv[0]) == filepath.Base(exe) {
		argv[0] = exe
	}
	if argv[0], err = lookPath(argv[0], path, cwd); err != nil {
		return nil, false, err
	}
	return argv, false, nil
}

// lookPath finds an executable like exec.LookPath, but with the container's PATH.
func lookPath(file, path, cwd string) (string, error) {
	check := func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
	}
	if strings.Contains(file, "/") {
		if !filepath.IsAbs(file) {
			file = filepath.Join(cwd, file)
		}
		if check(file) {
			return file, nil
		}
		return "", fmt.Errorf("exec: %q: no such executable file", file)
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		if p := filepath.Join(dir, file); check(p) {
			if !filepath.IsAbs(p) {
				p = filepath.Join(cwd, p)
			}
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", file)
}
