#!/usr/bin/env bash
# fuzz.sh runs every fuzz target (func Fuzz*) of every package for FUZZTIME
# each, found with "go test -list", so a new target needs no edit here.
#
# Go's fuzz runner sometimes ends a clean run with "context deadline
# exceeded" and writes no crasher: such a run is retried once, and a second
# such run is reported as flaky, not failed. A real crasher (a new file
# under testdata/fuzz/NAME) or any other failure fails the run, but only
# after every target has run; the summary names each failure.
#
# Environment: GO (go), FUZZTIME (30s), FUZZMINIMIZETIME (5s), FUZZPKGS
# (./...), FUZZ (a regexp: only targets whose name matches).
set -uo pipefail

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-5s}
FUZZPKGS=${FUZZPKGS:-./...}
FUZZ=${FUZZ:-.}

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
trap 'echo "fuzz: interrupted" >&2; exit 130' INT TERM

# Discover: go test -list prints the matching names of a package, then
# "ok <tab> PACKAGE <tab> time".
# shellcheck disable=SC2086
if ! $GO test -run '^$' -list '^Fuzz' $FUZZPKGS >"$logs/list" 2>&1; then
	echo "fuzz: listing the fuzz targets failed:" >&2
	cat "$logs/list" >&2
	exit 2
fi
targets=()
names=()
while IFS= read -r line; do
	case $line in
	Fuzz*) names+=("$line") ;;
	ok*)
		pkg=$(printf '%s\n' "$line" | awk '{print $2}')
		for n in "${names[@]}"; do
			if printf '%s\n' "$n" | grep -Eq -- "$FUZZ"; then
				targets+=("$pkg $n")
			fi
		done
		names=()
		;;
	esac
done <"$logs/list"
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no fuzz targets found in $FUZZPKGS" >&2
	exit 2
fi

# corpus lists the files under a target's testdata/fuzz/NAME.
corpus() { ls -1 "$1" 2>/dev/null | sort; }

failed=()
flaky=()
ok=0
i=0
for t in "${targets[@]}"; do
	pkg=${t% *}
	name=${t#* }
	i=$((i + 1))
	dir=$($GO list -f '{{.Dir}}' "$pkg") || { failed+=("$pkg $name: go list failed"); continue; }
	cdir="$dir/testdata/fuzz/$name"
	log="$logs/$i.log"
	attempt=1
	while :; do
		before=$(corpus "$cdir")
		echo "fuzz: [$i/${#targets[@]}] $pkg $name (attempt $attempt, $FUZZTIME)"
		$GO test "$pkg" -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "$FUZZMINIMIZETIME" >"$log" 2>&1
		rc=$?
		if [ $rc -eq 0 ]; then
			ok=$((ok + 1))
			break
		fi
		new=$(comm -13 <(printf '%s\n' "$before") <(corpus "$cdir") | sed '/^$/d')
		if [ -n "$new" ]; then
			echo "fuzz: $pkg $name: crasher written:" >&2
			tail -n 30 "$log" >&2
			failed+=("$pkg $name: crasher $(printf '%s\n' "$new" | sed "s|^|$cdir/|" | tr '\n' ' ')")
			break
		fi
		if grep -q 'context deadline exceeded' "$log"; then
			if [ $attempt -eq 1 ]; then
				echo "fuzz: $pkg $name: the fuzz runner's \"context deadline exceeded\" without a crasher; retrying once" >&2
				attempt=2
				continue
			fi
			echo "fuzz: $pkg $name: \"context deadline exceeded\" again without a crasher: flaky, not failed" >&2
			flaky+=("$pkg $name")
			break
		fi
		echo "fuzz: $pkg $name failed (exit $rc):" >&2
		tail -n 30 "$log" >&2
		failed+=("$pkg $name: exit $rc, no crasher written (see the output above)")
		break
	done
done

echo "fuzz: ${#targets[@]} targets: $ok passed, ${#flaky[@]} flaky, ${#failed[@]} failed"
for f in "${flaky[@]}"; do echo "fuzz: flaky: $f"; done
for f in "${failed[@]}"; do echo "fuzz: FAILED: $f"; done
[ ${#failed[@]} -eq 0 ]
