package services

import (
	"fmt"
	"syscall"

	"github.com/vserver-go/vserver/internal/tomlcheck"
)

// decoder decodes a service file: the shared strict checks plus the values
// only services have.
type decoder struct{ *tomlcheck.Decoder }

func (d *decoder) signal(path []string, v any) (syscall.Signal, bool) {
	var sig syscall.Signal
	var err error
	switch v := v.(type) {
	case string:
		sig, err = parseSignal(v)
	case int64:
		sig, err = parseSignal(fmt.Sprint(v))
	default:
		d.WrongType(path, `a signal name such as "SIGTERM"`, v)
		return 0, false
	}
	if err != nil {
		d.ValErr(path, "%v", err)
		return 0, false
	}
	return sig, true
}
