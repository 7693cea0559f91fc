package services

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSystemLookup(t *testing.T) {
	root := t.TempDir()
	writeTestFile(t, filepath.Join(root, "etc/passwd"), `# comment
root:x:0:0:root:/root:/bin/bash
+nis
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
broken:x:abc:1:::
short:x:1
`)
	writeTestFile(t, filepath.Join(root, "etc/group"), "root:x:0:\nadm:x:4:syslog,www-data\nwww-data:x:33:\nstaff:x:50: www-data \n")
	l := SystemLookup(root)

	uid, gid, home, err := l.User("www-data")
	if err != nil || uid != 33 || gid != 33 || home != "/var/www" {
		t.Errorf("User(www-data) = %d %d %q %v", uid, gid, home, err)
	}
	if uid, gid, home, err = l.User("33"); err != nil || uid != 33 || gid != 33 || home != "/var/www" {
		t.Errorf("User(33) by id = %d %d %q %v", uid, gid, home, err)
	}
	if uid, gid, _, err = l.User("4242"); err != nil || uid != 4242 || gid != 4242 {
		t.Errorf("User(4242) numeric = %d %d %v", uid, gid, err)
	}
	if _, _, _, err = l.User("nobody"); err == nil || err.Error() != `unknown user "nobody"` {
		t.Errorf("User(nobody) error = %v", err)
	}
	if _, _, _, err = l.User("broken"); err == nil || !strings.Contains(err.Error(), "bad /etc/passwd entry") {
		t.Errorf("User(broken) error = %v", err)
	}
	if gid, err := l.Group("adm"); err != nil || gid != 4 {
		t.Errorf("Group(adm) = %d %v", gid, err)
	}
	if gid, err := l.Group("123"); err != nil || gid != 123 {
		t.Errorf("Group(123) = %d %v", gid, err)
	}
	if _, err := l.Group("wheel"); err == nil || err.Error() != `unknown group "wheel"` {
		t.Errorf("Group(wheel) error = %v", err)
	}
	gids, err := l.(MemberLookup).Memberships("www-data")
	if err != nil || !reflect.DeepEqual(gids, []int{4, 50}) {
		t.Errorf("Memberships = %v %v", gids, err)
	}

	// Through the loader: groups default to the user's memberships.
	s, errs := LoadService("/x/web.toml", []byte("command = \"x\"\nuser = \"www-data\"\n"), l)
	if len(errs) != 0 || !reflect.DeepEqual(s.Groups, []int{4, 50}) {
		t.Errorf("spec groups = %v, %v", s.Groups, errs)
	}
	s, errs = LoadService("/x/web.toml", []byte("command = \"x\"\nuser = \"www-data\"\ngroups = []\n"), l)
	if len(errs) != 0 || s.Groups == nil || len(s.Groups) != 0 {
		t.Errorf("explicit empty groups = %#v, %v", s.Groups, errs)
	}
}

func TestSystemLookupMissingFiles(t *testing.T) {
	l := SystemLookup(t.TempDir())
	if _, _, _, err := l.User("www-data"); err == nil || !strings.Contains(err.Error(), "read /etc/passwd") {
		t.Errorf("User without /etc/passwd: %v", err)
	}
	// A minimal container without /etc/passwd can still name numeric ids.
	s, errs := LoadService("/x/a.toml", []byte("command = \"x\"\nuser = \"65534\"\ngroup = 65534\n"), l)
	if len(errs) != 0 || s.UID != 65534 || s.GID != 65534 {
		t.Errorf("numeric ids without files: uid %d gid %d %v", s.UID, s.GID, errs)
	}
	_, errs = LoadService("/x/a.toml", []byte("command = \"x\"\nuser = \"app\"\n"), l)
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "/x/a.toml:2:8: user: read /etc/passwd: open ") {
		t.Errorf("errors = %v", errs)
	}
}
