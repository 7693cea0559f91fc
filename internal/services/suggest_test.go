package services

import (
	"testing"

	"github.com/vserver-go/vserver/internal/tomlcheck"
)

func TestSuggest(t *testing.T) {
	tests := []struct{ word, want string }{
		{"restrat", "restart"},
		{"restart_dealy", "restart_delay"},
		{"comand", "command"},
		{"stop_sigal", "stop_signal"},
		{"envfile", "env_file"},
		{"Type", "type"},
		{"usr", "user"},
		{"frobnicate", ""},
		{"x", ""},
		{"", ""},
		{"wathcdog", "watchdog"},
	}
	for _, tt := range tests {
		if got := tomlcheck.Suggest(tt.word, serviceKeys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}
