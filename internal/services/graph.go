package services

import (
	"fmt"
	"sort"
	"strings"
)

// StartOrder groups services into levels: every service's After
// dependencies are in earlier levels, so the services of one level can start
// in parallel once the previous level is ready. Reversed, the levels are the
// stop order. Names in After that are not in specs are ignored (LoadDir has
// reported them). A cycle is an error naming it.
func StartOrder(specs map[string]*Spec) ([][]string, error) {
	names := sortedNames(specs)
	deps := func(n string) []string {
		var out []string
		for _, a := range specs[n].After {
			if _, ok := specs[a]; ok && a != n {
				out = append(out, a)
			}
		}
		return out
	}
	if cycles := findCycles(names, deps); len(cycles) > 0 {
		msgs := make([]string, len(cycles))
		for i, c := range cycles {
			msgs[i] = strings.Join(c, " -> ")
		}
		return nil, fmt.Errorf("dependency cycle: %s", strings.Join(msgs, "; "))
	}
	level := map[string]int{}
	var depth func(n string) int
	depth = func(n string) int {
		if l, ok := level[n]; ok {
			return l
		}
		l := 0
		for _, a := range deps(n) {
			l = max(l, depth(a)+1)
		}
		level[n] = l
		return l
	}
	var levels [][]string
	for _, n := range names {
		l := depth(n)
		for len(levels) <= l {
			levels = append(levels, nil)
		}
		levels[l] = append(levels[l], n)
	}
	return levels, nil
}

func sortedNames(specs map[string]*Spec) []string {
	names := make([]string, 0, len(specs))
	for n, s := range specs {
		if s != nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// findCycles returns one cycle for each strongly connected component with
// more than one node, as a path from its smallest name back to it:
// ["a", "b", "c", "a"]. Tarjan's algorithm; deterministic for sorted names.
func findCycles(names []string, deps func(string) []string) [][]string {
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var comps [][]string
	next := 0
	var visit func(n string)
	visit = func(n string) {
		index[n], low[n] = next, next
		next++
		stack = append(stack, n)
		onStack[n] = true
		for _, m := range deps(n) {
			if _, seen := index[m]; !seen {
				visit(m)
				low[n] = min(low[n], low[m])
			} else if onStack[m] {
				low[n] = min(low[n], index[m])
			}
		}
		if low[n] == index[n] {
			var comp []string
			for {
				m := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[m] = false
				comp = append(comp, m)
				if m == n {
					break
				}
			}
			if len(comp) > 1 {
				comps = append(comps, comp)
			}
		}
	}
	for _, n := range names {
		if _, seen := index[n]; !seen {
			visit(n)
		}
	}
	var cycles [][]string
	for _, comp := range comps {
		in := map[string]bool{}
		for _, n := range comp {
			in[n] = true
		}
		sort.Strings(comp)
		cycles = append(cycles, cycleFrom(comp[0], in, deps))
	}
	sort.Slice(cycles, func(i, j int) bool { return cycles[i][0] < cycles[j][0] })
	return cycles
}

// cycleFrom finds a shortest path from start back to start inside one
// strongly connected component (breadth first, so the message is short).
func cycleFrom(start string, in map[string]bool, deps func(string) []string) []string {
	prev := map[string]string{}
	queue := []string{start}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, m := range deps(n) {
			if !in[m] {
				continue
			}
			if m == start {
				path := []string{start}
				for c := n; c != start; c = prev[c] {
					path = append(path, c)
				}
				path = append(path, start)
				// path is start, n, ..., start reversed in the middle
				mid := path[1 : len(path)-1]
				for i, j := 0, len(mid)-1; i < j; i, j = i+1, j-1 {
					mid[i], mid[j] = mid[j], mid[i]
				}
				return path
			}
			if _, seen := prev[m]; !seen {
				prev[m] = n
				queue = append(queue, m)
			}
		}
	}
	return []string{start, start} // unreachable for a real component
}
