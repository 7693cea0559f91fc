#!/bin/sh
# matrix.sh runs the conformance suite against vinit, tini, dumb-init and
# catatonit (as root) and prints one markdown table: a row per scenario, a
# column per init, each cell pass / FAIL / skip. The full logs stay in $OUT
# (default: a new temp dir), named KIND.log.
#
#   conformance/matrix.sh            # vinit from $VINIT_BIN or built from ./cmd/vinit
#   VINIT_BIN=bin/vinit conformance/matrix.sh
set -u
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT" || exit 1
vinit=${VINIT_BIN:-}
if [ -z "$vinit" ]; then
	vinit=$OUT/vinit
	CGO_ENABLED=0 go build -o "$vinit" ./cmd/vinit || exit 1
fi
kinds=""
for pair in "vinit=$vinit" "tini=$(command -v tini)" "dumb-init=$(command -v dumb-init)" "catatonit=$(command -v catatonit)"; do
	kind=${pair%%=*} bin=${pair#*=}
	if [ -z "$bin" ]; then
		echo "matrix: $kind not installed, left out" >&2
		continue
	fi
	echo "matrix: running the suite against $kind ($bin)" >&2
	INIT_BIN=$bin INIT_KIND=$kind go test -count=1 -v ./conformance >"$OUT/$kind.log" 2>&1
	kinds="$kinds $kind"
done
echo "matrix: logs in $OUT" >&2

# Every "--- PASS|FAIL|SKIP: Name (time)" line, in the order of the first log.
for kind in $kinds; do
	sed -n 's/^ *--- \(PASS\|FAIL\|SKIP\): \([^ ]*\) .*/\2 \1/p' "$OUT/$kind.log" |
		awk -v k="$kind" '{print k, $1, $2}'
done | awk -v kinds="$kinds" '
	BEGIN { n = split(kinds, K, " ") }
	{
		if (!($2 in seen)) { seen[$2] = 1; order[++rows] = $2 }
		cell[$1, $2] = ($3 == "PASS" ? "pass" : $3 == "FAIL" ? "**FAIL**" : "skip")
	}
	END {
		for (r = 1; r <= rows; r++)
			for (q = 1; q <= rows; q++)
				if (index(order[q], order[r] "/") == 1) parent[order[r]] = 1
		for (r = 1; r <= rows; r++) {
			name = order[r]
			# A parent test with subtests only sums them up.
			if (name in parent) continue
			top = name; sub(/\/.*/, "", top)
			line = "| " name " |"
			for (i = 1; i <= n; i++) {
				c = cell[K[i], name]; if (c == "") c = "–"
				line = line " " c " |"
			}
			# Sorted by scenario ID, subtests in the order they ran.
			printf "%s\t%05d\t%s\n", top, r, line
		}
	}' | sort -t "$(printf '\t')" -k1,1 -k2,2n | cut -f3 | {
	printf '| scenario |'
	for kind in $kinds; do printf ' %s |' "$kind"; done
	printf '\n|---|'
	for kind in $kinds; do printf -- '---|'; done
	printf '\n'
	cat
}
