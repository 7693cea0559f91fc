// Package memtrim gives back the memory a long-running Go daemon only
// needed while starting.
package memtrim

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Startup gives back memory that only the start-up needed. Starting vinit
// or a vserver monitor touches much of the static binary (4-6 MB): flag
// parsing, config loading, TOML and JSON code. The kernel's fault-around maps neighbouring
// pages too, so most of the file ends up counted in the RSS although the
// event loop afterwards needs a small part of it. Dropping the mappings of
// the executable's clean, read-only segments is safe: a page that is used
// again faults back in from the page cache. (Returning freed heap with
// debug.FreeOSMemory was measured too: it freed nothing worth its GC.)
func Startup() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(s.Text())
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}
