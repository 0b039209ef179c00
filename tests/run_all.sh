#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (as root):
#   install packages -> build (gcc), build (ASan+UBSan), build (libFuzzer) ->
#   unit tests in both builds -> short fuzz runs -> integration tests against
#   both binaries.
# The last line is "total: N passed, N failed"; the exit status is 0 only
# when nothing failed.
#
# The fuzz step is reproducible: a fixed seed and a fixed number of runs
# per target (FUZZ_RUNS, default 200000), capped at FUZZ_SECONDS (default
# 60).  A CI run that passes once passes again; exploratory fuzzing with
# random seeds is a separate, longer job (FUZZ_SEED=0 picks a random seed).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3 # Debian's interpreter: it has python3-grpcio (NOTES.md)
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_RUNS=${FUZZ_RUNS:-200000}
FUZZ_SEED=${FUZZ_SEED:-1}

passed=0
failed=0
failures=()
step() { printf '\n==== %s\n' "$*"; }
count() { # name exit-status passed failed
	passed=$((passed + $3))
	failed=$((failed + $4))
	# A step that failed without counting its failures still counts one.
	if [ "$2" != 0 ] && [ "$4" = 0 ]; then failed=$((failed + 1)); fi
	if [ "$2" != 0 ] || [ "$4" != 0 ]; then failures+=("$1"); fi
}

step "dependencies"
bash deploy/debian-deps.sh || { echo "total: 0 passed, 1 failed"; exit 1; }

build() { # dir [meson options...]
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
	fi
	ninja -C "$dir" >"$dir.ninja.log" 2>&1 || { tail -50 "$dir.ninja.log"; return 1; }
}

step "build: gcc, -Werror"
build build || { echo "total: $passed passed, $((failed + 1)) failed"; exit 1; }
step "build: ASan + UBSan"
build build-asan -Db_sanitize=address,undefined -Db_lundef=false ||
	{ echo "total: $passed passed, $((failed + 1)) failed"; exit 1; }
step "build: libFuzzer targets (clang)"
CC=clang build build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false ||
	{ echo "total: $passed passed, $((failed + 1)) failed"; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

run_unit() { # builddir
	local out rc ok fail
	out=$(meson test -C "$1" --suite unit --print-errorlogs 2>&1)
	rc=$?
	echo "$out" | grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Timeout):'
	# Count checks, not executables: each unit test prints "N passed, N failed".
	ok=$(awk '/^[0-9]+ passed, [0-9]+ failed$/ {s += $1} END {print s + 0}' "$1/meson-logs/testlog.txt")
	fail=$(awk '/^[0-9]+ passed, [0-9]+ failed$/ {s += $3} END {print s + 0}' "$1/meson-logs/testlog.txt")
	echo "unit checks: $ok passed, $fail failed"
	count "unit tests ($1)" "$rc" "$ok" "$fail"
}
step "unit tests (gcc)"
run_unit build
step "unit tests (ASan + UBSan)"
run_unit build-asan

step "fuzz: seed $FUZZ_SEED, $FUZZ_RUNS runs (at most ${FUZZ_SECONDS}s) per target"
for target in build-fuzz/tests/fuzz/fuzz_*; do
	[ -f "$target" ] && [ -x "$target" ] || continue
	name=${target##*/fuzz_}
	work=$(mktemp -d)
	if "$target" -seed="$FUZZ_SEED" -runs="$FUZZ_RUNS" -max_total_time="$FUZZ_SECONDS" \
		-print_final_stats=1 "$work" \
		"tests/fuzz/corpus/$name" >"$work.log" 2>&1; then
		echo "fuzz_$name: ok ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work.log" | grep -o '[0-9]*$') runs)"
		count "fuzz_$name" 0 1 0
	else
		tail -40 "$work.log"
		mkdir -p fuzz-crashes && cp crash-* leak-* timeout-* fuzz-crashes/ 2>/dev/null
		count "fuzz_$name" 1 0 1
	fi
	rm -rf "$work" "$work.log"
done

run_pytest() { # label binary
	local out rc p f e
	out=$(RINGGATE_BIN=$2 "$PY" -m pytest -q -p no:cacheprovider tests/integration 2>&1)
	rc=$?
	echo "$out" | tail -25
	p=$(echo "$out" | tail -1 | grep -o '[0-9]* passed' | grep -o '[0-9]*')
	f=$(echo "$out" | tail -1 | grep -o '[0-9]* failed' | grep -o '[0-9]*')
	e=$(echo "$out" | tail -1 | grep -o '[0-9]* error' | grep -o '[0-9]*')
	# pytest exits 5 when it collected nothing: that is a failure here.
	[ "$rc" = 5 ] && f=1
	count "integration ($1)" "$rc" "${p:-0}" "$((${f:-0} + ${e:-0}))"
}
step "integration tests (gcc build)"
run_pytest gcc "$ROOT/build/gateway/ringgate"
step "integration tests (ASan + UBSan build)"
run_pytest asan "$ROOT/build-asan/gateway/ringgate"

echo
if [ ${#failures[@]} -gt 0 ]; then
	echo "failed steps: ${failures[*]}"
fi
echo "total: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ ${#failures[@]} = 0 ]
