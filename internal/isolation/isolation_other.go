//go:build !linux

package isolation

import (
	"errors"
	"os"
)

// Start needs Linux namespaces.
func Start(*Spec) (*os.Process, error) { return nil, errors.New("start guest: guests need Linux") }

// CheckKernel: guests need Linux.
func CheckKernel() error { return errors.New("guests need Linux") }

// Reexec is never the isolation child outside Linux.
func Reexec() bool { return false }
