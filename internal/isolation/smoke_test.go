package isolation

import "testing"

func TestSmoke(t *testing.T) {
	needRoot(t)
	root := makeRoot(t)
	o := runProbe(t, &Spec{Name: "smoke", Root: root, Hostname: "guest1", Caps: DefaultCaps(), Seccomp: true, Env: []string{"PROBE_KEXEC=1"}})
	t.Logf("%+v", o)
}
