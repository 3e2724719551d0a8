#!/usr/bin/env bash
# Runs every native Go fuzz target of the module for the given -fuzztime each:
# a duration (default 30s) or an input count such as 20000x. `make test` runs
# a fixed count (a count has no deadline to overrun at the end of a run);
# `make fuzz FUZZTIME=10m` runs longer.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-30s}

grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
	pkg=./$(dirname "${file#./}")
	for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -d' ' -f2); do
		echo "fuzz: $pkg $target ($fuzztime)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
	done
done
