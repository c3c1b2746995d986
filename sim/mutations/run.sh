#!/usr/bin/env bash
# Mutation score of the property tests: applies each hand-made mutation of the hardened
# engine (sim/mutations/*.patch), runs `cargo test -p fazt-sim --test properties`, and
# counts it caught when the tests fail. A mutation that does not compile is unviable.
#
#   sim/mutations/run.sh [PATCH...]            # in a scratch copy (a first build is long)
#   sim/mutations/run.sh --in-place [PATCH...] # in this clean checkout, reverted after each
#
# Both build in $CARGO_TARGET_DIR, which must be set (an existing target dir: a build
# from scratch in a new one is long and fills the disk). Scratch mode copies the tree to
# $MUTANTS_DIR (default /tmp/fazt-mutants); logs go to $MUTANTS_DIR/logs.
set -euo pipefail
: "${CARGO_TARGET_DIR:?set CARGO_TARGET_DIR to an existing target dir}"
export CARGO_TARGET_DIR
here=$(cd "$(dirname "$0")/../.." && pwd)
scratch=${MUTANTS_DIR:-/tmp/fazt-mutants}
in_place=false
if [ "${1:-}" = "--in-place" ]; then in_place=true; shift; fi
patches=("$@")
[ ${#patches[@]} -eq 0 ] && patches=("$here"/sim/mutations/*.patch)
mkdir -p "$scratch/logs"
if $in_place; then
  tree=$here
  if ! git -C "$tree" diff --quiet; then echo "the tree has uncommitted changes" >&2; exit 2; fi
else
  tree=$scratch/src
  mkdir -p "$tree"
  rsync -a --delete --exclude target --exclude .git "$here"/ "$tree"/
fi
caught=0 missed=0 unviable=0
for patch in "${patches[@]}"; do
  name=$(basename "$patch" .patch)
  log=$scratch/logs/$name.log
  patch -s -d "$tree" -p1 < "$patch"
  if ! (cd "$tree" && cargo test -p fazt-sim --test properties --no-run) >"$log" 2>&1; then
    verdict=unviable; unviable=$((unviable + 1))
  else
    # The first failing test decides: stop there rather than wait for its shrinking.
    binary=$(sed -n 's/.*Executable tests\/properties.rs (\(.*\))/\1/p' "$log")
    (cd "$tree/sim" && exec setsid timeout 600 "$binary") >>"$log" 2>&1 &
    tests=$!
    while kill -0 "$tests" 2>/dev/null && ! grep -q 'FAILED' "$log"; do sleep 1; done
    if kill -0 "$tests" 2>/dev/null || ! wait "$tests"; then
      verdict=caught; caught=$((caught + 1))
    else
      verdict=missed; missed=$((missed + 1))
    fi
    kill -- -"$tests" 2>/dev/null || true
    wait "$tests" 2>/dev/null || true
  fi
  patch -s -R -d "$tree" -p1 < "$patch"
  # A failing search stores its shrunk case; it belongs to the mutant, not the tree.
  git -C "$tree" clean -fdq -- fixtures/regressions 2>/dev/null || true
  echo "$verdict $name"
done
echo "caught $caught, missed $missed, unviable $unviable of ${#patches[@]}"
