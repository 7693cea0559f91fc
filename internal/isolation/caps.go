package isolation

import (
	"strings"

	"github.com/vserver-go/vserver/internal/tomlcheck"
)

// capNames is indexed by capability number (linux/capability.h).
var capNames = []string{
	0:  "CAP_CHOWN",
	1:  "CAP_DAC_OVERRIDE",
	2:  "CAP_DAC_READ_SEARCH",
	3:  "CAP_FOWNER",
	4:  "CAP_FSETID",
	5:  "CAP_KILL",
	6:  "CAP_SETGID",
	7:  "CAP_SETUID",
	8:  "CAP_SETPCAP",
	9:  "CAP_LINUX_IMMUTABLE",
	10: "CAP_NET_BIND_SERVICE",
	11: "CAP_NET_BROADCAST",
	12: "CAP_NET_ADMIN",
	13: "CAP_NET_RAW",
	14: "CAP_IPC_LOCK",
	15: "CAP_IPC_OWNER",
	16: "CAP_SYS_MODULE",
	17: "CAP_SYS_RAWIO",
	18: "CAP_SYS_CHROOT",
	19: "CAP_SYS_PTRACE",
	20: "CAP_SYS_PACCT",
	21: "CAP_SYS_ADMIN",
	22: "CAP_SYS_BOOT",
	23: "CAP_SYS_NICE",
	24: "CAP_SYS_RESOURCE",
	25: "CAP_SYS_TIME",
	26: "CAP_SYS_TTY_CONFIG",
	27: "CAP_MKNOD",
	28: "CAP_LEASE",
	29: "CAP_AUDIT_WRITE",
	30: "CAP_AUDIT_CONTROL",
	31: "CAP_SETFCAP",
	32: "CAP_MAC_OVERRIDE",
	33: "CAP_MAC_ADMIN",
	34: "CAP_SYSLOG",
	35: "CAP_WAKE_ALARM",
	36: "CAP_BLOCK_SUSPEND",
	37: "CAP_AUDIT_READ",
	38: "CAP_PERFMON",
	39: "CAP_BPF",
	40: "CAP_CHECKPOINT_RESTORE",
}

// capNumber maps "chown", "CHOWN", "cap_chown" or "CAP_CHOWN" to 0.
func capNumber(name string) (int, bool) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for i, c := range capNames {
		if c == n {
			return i, true
		}
	}
	return 0, false
}

// capSuggestion returns `, did you mean "CAP_X"?` for a near miss, else "".
func capSuggestion(name string) string {
	n := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(name)), "CAP_")
	short := make([]string, len(capNames))
	for i, c := range capNames {
		short[i] = strings.TrimPrefix(c, "CAP_")
	}
	best := tomlcheck.Suggest(n, short)
	if best == "" {
		return ""
	}
	return `, did you mean "CAP_` + best + `"?`
}

// capMask turns validated names into a bit mask (bit n = capability n).
func capMask(names []string) (uint64, error) {
	var m uint64
	parsed, err := ParseCaps(names)
	if err != nil {
		return 0, err
	}
	for _, n := range parsed {
		num, _ := capNumber(n)
		m |= 1 << uint(num)
	}
	return m, nil
}
