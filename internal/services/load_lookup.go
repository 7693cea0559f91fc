package services

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Lookup resolves user and group names. Tests pass a fake; vinit passes
// SystemLookup of the root it runs in.
type Lookup interface {
	User(name string) (uid, gid int, home string, err error)
	Group(name string) (gid int, err error)
}

// MemberLookup is an optional extension of Lookup: the supplementary groups
// a user belongs to. When the lookup has it, a service with a user and no
// "groups" key gets the user's groups, as login(1) and initgroups(3) do.
type MemberLookup interface {
	Lookup
	Memberships(user string) ([]int, error)
}

// SystemLookup reads root/etc/passwd and root/etc/group on every call, so a
// reload sees accounts added since boot. It needs no cgo and no NSS: vinit
// runs in guests whose accounts live in these two files. A numeric name that
// is not in the files is taken as the id itself.
func SystemLookup(root string) Lookup { return systemLookup{root: root} }

type systemLookup struct{ root string }

func (l systemLookup) read(name string) ([][]string, error) {
	data, err := os.ReadFile(filepath.Join(l.root, "etc", name))
	if err != nil {
		return nil, fmt.Errorf("read /etc/%s: %w", name, err)
	}
	return parseColonFile(data), nil
}

// parseColonFile splits passwd/group style lines into fields, skipping
// comments, blank lines and NIS "+"/"-" entries.
func parseColonFile(data []byte) [][]string {
	var out [][]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out
}

func (l systemLookup) User(name string) (int, int, string, error) {
	rows, err := l.read("passwd")
	if err != nil {
		return 0, 0, "", err
	}
	num, numErr := strconv.Atoi(name)
	for _, byID := range []bool{false, true} {
		for _, f := range rows {
			if len(f) < 6 {
				continue
			}
			if !byID && f[0] != name || byID && (numErr != nil || f[2] != strconv.Itoa(num)) {
				continue
			}
			uid, err1 := strconv.Atoi(f[2])
			gid, err2 := strconv.Atoi(f[3])
			if err1 != nil || err2 != nil || uid < 0 || gid < 0 {
				return 0, 0, "", fmt.Errorf("bad /etc/passwd entry for %q", f[0])
			}
			return uid, gid, f[5], nil
		}
	}
	if numErr == nil && num >= 0 {
		return num, num, "/", nil
	}
	return 0, 0, "", fmt.Errorf("unknown user %q", name)
}

func (l systemLookup) Group(name string) (int, error) {
	rows, err := l.read("group")
	if err != nil {
		return 0, err
	}
	for _, f := range rows {
		if len(f) >= 3 && f[0] == name {
			gid, err := strconv.Atoi(f[2])
			if err != nil || gid < 0 {
				return 0, fmt.Errorf("bad /etc/group entry for %q", name)
			}
			return gid, nil
		}
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	return 0, fmt.Errorf("unknown group %q", name)
}

func (l systemLookup) Memberships(user string) ([]int, error) {
	rows, err := l.read("group")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range rows {
		if len(f) < 4 {
			continue
		}
		for _, m := range strings.Split(f[3], ",") {
			if strings.TrimSpace(m) == user {
				if gid, err := strconv.Atoi(f[2]); err == nil && gid >= 0 {
					out = append(out, gid)
				}
				break
			}
		}
	}
	return out, nil
}
