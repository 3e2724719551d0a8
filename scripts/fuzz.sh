#!/usr/bin/env bash
# Runs every native Go fuzz target of the module for the given time each
# (default 30s). `make test` runs it briefly; `make fuzz FUZZTIME=10m` longer.
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
