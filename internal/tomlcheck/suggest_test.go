package tomlcheck

import "testing"

func TestSuggest(t *testing.T) {
	keys := []string{"command", "restart", "restart_delay", "stop_signal", "env_file", "type", "user", "watchdog", "mode", "ips", "dev"}
	tests := []struct{ word, want string }{
		{"restrat", "restart"},
		{"restart_dealy", "restart_delay"},
		{"comand", "command"},
		{"envfile", "env_file"},
		{"Type", "type"},
		{"usr", "user"},
		{"wathcdog", "watchdog"},
		{"ip", "ips"},
		{"dve", "dev"},
		{"frobnicate", ""},
		{"x", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Suggest(tt.word, keys); got != tt.want {
			t.Errorf("Suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
	if got := Suggest("mode", nil); got != "" {
		t.Errorf("Suggest with no candidates = %q, want \"\"", got)
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
