package services

import "testing"

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
		if got := suggest(tt.word, serviceKeys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{{"", "", 0}, {"a", "", 1}, {"abc", "abc", 0}, {"abc", "acb", 1}, {"kitten", "sitting", 3}, {"restrat", "restart", 1}}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
