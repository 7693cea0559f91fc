package services

import (
	"reflect"
	"sort"
	"strings"
	"testing"
)

func sortStrings(s []string) { sort.Strings(s) }

func specsAfter(deps map[string][]string) map[string]*Spec {
	out := map[string]*Spec{}
	for n, after := range deps {
		out[n] = &Spec{Name: n, After: after}
	}
	return out
}

func TestStartOrder(t *testing.T) {
	tests := []struct {
		name string
		deps map[string][]string
		want [][]string
	}{
		{"empty", nil, nil},
		{"independent run in parallel", map[string][]string{"c": nil, "a": nil, "b": nil}, [][]string{{"a", "b", "c"}}},
		{"chain", map[string][]string{"web": {"migrate"}, "migrate": {"db"}, "db": nil},
			[][]string{{"db"}, {"migrate"}, {"web"}}},
		{"diamond with longest path", map[string][]string{
			"a": nil, "b": {"a"}, "c": {"a"}, "d": {"b", "c"}, "e": {"a", "d"}, "x": nil},
			[][]string{{"a", "x"}, {"b", "c"}, {"d"}, {"e"}}},
		{"unknown deps ignored", map[string][]string{"a": {"ghost"}, "b": {"a"}}, [][]string{{"a"}, {"b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := StartOrder(specsAfter(tt.deps))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStartOrderCycle(t *testing.T) {
	tests := []struct {
		deps map[string][]string
		want string
	}{
		{map[string][]string{"a": {"b"}, "b": {"a"}}, "dependency cycle: a -> b -> a"},
		{map[string][]string{"c": {"a"}, "a": {"b"}, "b": {"c"}, "d": {"a"}}, "dependency cycle: a -> b -> c -> a"},
		{map[string][]string{"a": {"b"}, "b": {"a"}, "x": {"y"}, "y": {"z"}, "z": {"x"}, "ok": nil},
			"dependency cycle: a -> b -> a; x -> y -> z -> x"},
		// a shortest cycle is named, not the whole component
		{map[string][]string{"a": {"b", "c"}, "b": {"c"}, "c": {"a"}}, "dependency cycle: a -> c -> a"},
	}
	for _, tt := range tests {
		_, err := StartOrder(specsAfter(tt.deps))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%v: got %v, want %q", tt.deps, err, tt.want)
		}
	}
}

// TestStartOrderLevelsRespectAfter checks the invariant on a larger graph:
// every dependency is in a strictly earlier level.
func TestStartOrderLevelsRespectAfter(t *testing.T) {
	deps := map[string][]string{}
	for i := 0; i < 60; i++ {
		n := "s" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26))
		var after []string
		for n2 := range deps {
			if len(after) < 3 && (len(n2)+i)%5 == 0 {
				after = append(after, n2)
			}
		}
		deps[n] = after
	}
	levels, err := StartOrder(specsAfter(deps))
	if err != nil {
		t.Fatal(err)
	}
	level := map[string]int{}
	total := 0
	for i, l := range levels {
		for _, n := range l {
			level[n] = i
			total++
		}
	}
	if total != len(deps) {
		t.Fatalf("levels hold %d services, want %d", total, len(deps))
	}
	for n, after := range deps {
		for _, a := range after {
			if level[a] >= level[n] {
				t.Errorf("%s (level %d) after %s (level %d)", n, level[n], a, level[a])
			}
		}
	}
}
