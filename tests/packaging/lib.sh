# TAP helpers shared by the packaging test scripts (sourced). Each check
# prints "ok - what" or "not ok - what" followed by "# " lines with the
# evidence; tests/packaging/run numbers the lines, so scripts running in
# other processes (a namespace, node) can print results of their own.

# check WHAT COMMAND...: runs COMMAND, ok if it exits 0.
check() {
  local what=$1; shift
  local output
  if output=$("$@" 2>&1); then
    echo "ok - $what"
  else
    echo "not ok - $what"
    printf '%s\n' "$output" | tail -n 40 | sed 's/^/# /'
  fi
}

# check_grep WHAT PATTERN TEXT: ok if the extended regex PATTERN matches a
# line of TEXT. (A here-string, not a pipe: under pipefail an early exit of
# grep -q would fail the writer.)
check_grep() {
  local what=$1 pattern=$2 text=$3
  if grep -Eq -- "$pattern" <<<"$text"; then
    echo "ok - $what"
  else
    echo "not ok - $what (no line matches /$pattern/)"
    printf '%s\n' "$text" | tail -n 40 | sed 's/^/# /'
  fi
}

# wait_for SECONDS COMMAND...: retries COMMAND every 0.2s until it succeeds
# or SECONDS pass (then returns 1).
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# Only the files a step left behind, and never a mount point's contents:
# remove_tree refuses a directory that still has something mounted under it.
remove_tree() {
  local dir=$1
  [ -n "$dir" ] && [ -d "$dir" ] || return 0
  if awk -v d="$dir/" 'index($5 "/", d) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    echo "# $dir still has mounts under it; left in place" >&2
    return 1
  fi
  rm -rf --one-file-system "$dir"
}
