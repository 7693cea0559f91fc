#!/usr/bin/env bash
# The vserver demo: build a small busybox guest, start it, look at it, reboot
# it from inside, stop it, clean up. `make demo` runs it after building
# bin/vinit and bin/vserver. Needs root. Touches no interface and no route:
# the guest's address is a loopback address (127.0.0.0/8).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
bin=${DEMO_BIN:-$here/bin}
[ "$(id -u)" -eq 0 ] || { echo "demo: run me as root (namespaces, cgroups, BPF)" >&2; exit 1; }
for b in "$bin/vserver" "$bin/vinit" /bin/busybox; do
	[ -x "$b" ] || { echo "demo: $b is missing (make build; apt-get install busybox-static)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/vserver-demo.XXXXXX)
export VSERVER_CONFIG_DIR=$work/etc VSERVER_RUN_DIR=$work/run VSERVER_LOG_DIR=$work/log VSERVER_VINIT=$bin/vinit
name=demo
root=$work/root
ip=127.42.0.10
port=8080
vs() { "$bin/vserver" "$@"; }

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
	local rc=$?
	if [ $rc -ne 0 ]; then
		echo >&2
		echo "demo: FAILED (exit $rc). The guest's log:" >&2
		tail -n 30 "$VSERVER_LOG_DIR/$name.log" >&2 2>/dev/null || true
	fi
	vs "$name" stop >/dev/null 2>&1 || true
	rm -rf "$work"
	exit $rc
}
trap cleanup EXIT

step "build a guest root in $root (static busybox; vinit stays on the host)"
mkdir -p "$root"/{bin,sbin,etc/vinit/services,proc,dev,sys,run,tmp,root,var/www}
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
for a in sh ls ps cat echo sleep hostname date httpd kill id uname mount grep head tail wc setsid; do
	ln -sf busybox "$root/bin/$a"
done
# The guest's vinit, reboot, halt and poweroff are the very vinit that is its
# PID 1 (the host's binary, executed from a sealed copy): nothing to install.
for a in vinit reboot halt poweroff; do
	ln -sf /proc/1/exe "$root/sbin/$a"
done
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"
echo "<h1>hello from the demo guest</h1>" >"$root/var/www/index.html"
# Two services for the guest's vinit: a web server (ready when it accepts
# connections on the guest's address) and a console ticker after it.
cat >"$root/etc/vinit/services/web.toml" <<SVC
description = "busybox httpd on 0.0.0.0:$port (ipv4root puts it on $ip)"
command = "/bin/httpd -f -p 0.0.0.0:$port -h /var/www"
ready = { tcp = "$ip:$port", timeout = "10s" }
SVC
cat >"$root/etc/vinit/services/ticker.toml" <<'SVC'
description = "says hello on the console every 2 seconds"
command = ["/bin/sh", "-c", "while :; do echo \"tick $(date +%T) on $(hostname)\"; sleep 2; done"]
after = ["web"]
SVC

step "write $VSERVER_CONFIG_DIR/$name.toml"
mkdir -p "$VSERVER_CONFIG_DIR"
cat >"$VSERVER_CONFIG_DIR/$name.toml" <<CONF
root = "$root"
hostname = "demo.example"
onboot = true

[net]
ips = ["$ip"]          # ipv4root: 0.0.0.0 in the guest is $ip

[limits]
processes = 100
memory = "128M"

[stop]
timeout = "5s"

[hooks]
post-start = "/bin/sh -c 'echo host hook: \$VSERVER_NAME \$VSERVER_PHASE \$VSERVER_REASON'"
post-stop  = "/bin/sh -c 'echo host hook: \$VSERVER_NAME \$VSERVER_PHASE \$VSERVER_REASON'"
CONF
cat "$VSERVER_CONFIG_DIR/$name.toml"
vs check "$name"

step "vserver $name start"
vs "$name" start

step "vserver list"
vs list

step "vserver $name status"
vs "$name" status

step "the guest's web server answers on its own address $ip:$port (it bound 0.0.0.0)"
for _ in $(seq 50); do
	if out=$(exec 3<>"/dev/tcp/$ip/$port" && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && cat <&3); then break; fi
	sleep 0.1
done
printf '%s\n' "$out" | tail -n 1
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
	echo "demo: the guest's 0.0.0.0 listener is reachable on the host's 127.0.0.1" >&2; exit 1
fi
echo "127.0.0.1:$port on the host: connection refused, as it should be"

pid=$(sed -n 's/.*"init_pid": \([0-9]*\).*/\1/p' "$VSERVER_RUN_DIR/$name.state")
step "inside the guest (vinit is pid $pid on the host): processes, hostname, services"
# `vserver NAME exec` asks the guest's vinit to run the command inside the
# guest (its namespaces, cgroup, capabilities); no host binary goes in.
inside() { vs "$name" exec -- "$@"; }
inside /bin/ps
inside /bin/hostname
inside /sbin/vinit status

step "reboot from inside: the guest's admin runs /sbin/reboot"
# The command itself is ended by the reboot it asked for: its status is moot.
inside /sbin/reboot || true
for _ in $(seq 100); do
	new=$(sed -n 's/.*"init_pid": \([0-9]*\).*/\1/p' "$VSERVER_RUN_DIR/$name.state" 2>/dev/null || true)
	phase=$(sed -n 's/.*"phase": "\([a-z]*\)".*/\1/p' "$VSERVER_RUN_DIR/$name.state" 2>/dev/null || true)
	[ -n "$new" ] && [ "$new" != "$pid" ] && [ "$phase" = running ] && break
	sleep 0.1
done
[ "$new" != "$pid" ] || { echo "demo: the guest did not come back" >&2; exit 1; }
echo "vinit was pid $pid, now pid $new (a fresh PID namespace, hooks ran again)"
vs "$name" status | grep -E 'boots|init pid'
pid=$new
inside /sbin/vinit status

step "vserver $name logs (console and monitor)"
vs "$name" logs -n 25

step "vserver $name stop"
vs "$name" stop
vs "$name" running && { echo "demo: still running" >&2; exit 1; }
vs list
echo
echo "demo: OK"
