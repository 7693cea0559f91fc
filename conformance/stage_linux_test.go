package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The test binary re-executes itself into new PID and mount namespaces; the
// copy that starts there is PID 1 and runs one of these stages, chosen by
// stageEnv, with its instructions in specEnv.
const (
	stageEnv = "CONFORMANCE_STAGE"
	specEnv  = "CONFORMANCE_SPEC"

	// stagePID1 makes the mounts private, mounts a fresh /proc and execs
	// the init, which so becomes PID 1 of the namespace.
	stagePID1 = "pid1"
	// stageStub does the same mounts, then runs the init as its child, so
	// the init is not PID 1. The stub reaps nothing but the init (orphans
	// that reach it stay zombies: the negative control for subreaping),
	// writes the init's status "CODE SIGNAL\n" to fd 3 and exits only when
	// fd 4 reaches EOF, so the test can inspect what the init left behind.
	stageStub = "stub"

	// stageFailed is the exit status of a stage that could not start the
	// init; the message is on stderr.
	stageFailed = 121
)

type stageSpec struct {
	Argv []string `json:"argv"`
	Env  []string `json:"env"`
	// Ignore and Block are signals the parent of the init ignores and
	// blocks before it execs the init (stagePID1 only).
	Ignore []int `json:"ignore,omitempty"`
	Block  []int `json:"block,omitempty"`
}

func runStage(stage string) {
	var spec stageSpec
	if err := json.Unmarshal([]byte(os.Getenv(specEnv)), &spec); err != nil {
		stageFail("decode %s: %v", specEnv, err)
	}
	if err := privateProc(); err != nil {
		stageFail("%v", err)
	}
	switch stage {
	case stagePID1:
		execInit(spec)
	case stageStub:
		stubInit(spec)
	}
	stageFail("unknown stage %q", stage)
}

func stageFail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "conformance stage: "+format+"\n", args...)
	os.Exit(stageFailed)
}

// privateProc keeps the namespace's mounts from propagating to the host and
// mounts a /proc that shows only the namespace's processes.
func privateProc() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	return nil
}

// kernelSigaction is struct sigaction as the rt_sigaction system call takes
// it on linux/amd64 and arm64.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

func execInit(spec stageSpec) {
	// Signal dispositions and the mask are per thread until exec: do both
	// on the thread that execs. The Go runtime refuses to ignore some
	// signals (SIGSEGV), hence the raw system call.
	runtime.LockOSThread()
	for _, s := range spec.Ignore {
		sa := kernelSigaction{handler: 1} // SIG_IGN
		if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(s), uintptr(unsafe.Pointer(&sa)), 0, 8, 0, 0); e != 0 {
			stageFail("ignore signal %d: %v", s, e)
		}
	}
	if len(spec.Block) > 0 {
		var set unix.Sigset_t
		for _, s := range spec.Block {
			set.Val[(s-1)/64] |= 1 << (uint(s-1) % 64)
		}
		if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
			stageFail("block signals: %v", err)
		}
	}
	err := syscall.Exec(spec.Argv[0], spec.Argv, spec.Env)
	stageFail("exec %s: %v", spec.Argv[0], err)
}

func stubInit(spec stageSpec) {
	status, release := os.NewFile(3, "status"), os.NewFile(4, "release")
	syscall.CloseOnExec(3)
	syscall.CloseOnExec(4)
	p, err := os.StartProcess(spec.Argv[0], spec.Argv, &os.ProcAttr{
		Env:   spec.Env,
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
	})
	if err != nil {
		stageFail("start %s: %v", spec.Argv[0], err)
	}
	ps, err := p.Wait()
	if err != nil {
		stageFail("wait for %s: %v", spec.Argv[0], err)
	}
	ws := ps.Sys().(syscall.WaitStatus)
	code, sig := ws.ExitStatus(), 0
	if ws.Signaled() {
		sig = int(ws.Signal())
	}
	fmt.Fprintf(status, "%d %d\n", code, sig)
	if sig != 0 {
		code = 128 + sig
	}
	io.Copy(io.Discard, release)
	os.Exit(code)
}
