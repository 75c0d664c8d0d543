#!/usr/bin/env bash
# Checks every module .so the build produced: it exports the entry symbol
# (shipped modules nothing else) and no STB_GNU_UNIQUE symbols (which would make dlclose() a no-op and a
# reload silently keep the old code). Prints "ok"/"not ok" lines.
set -uo pipefail
build=${1:-build}
status=0; count=0
for so in "$build"/modules/*.so "$build"/tests/modules/*.so; do
  [ -e "$so" ] || continue
  count=$((count + 1))
  syms=$(readelf -W --dyn-syms "$so")
  unique=$(grep -c UNIQUE <<<"$syms" || true)
  if [ "$unique" -ne 0 ]; then echo "not ok $so exports $unique STB_GNU_UNIQUE symbols"; status=1
  else echo "ok $so has no STB_GNU_UNIQUE symbols"; fi
  # no_entry.so exists to prove the host refuses a module without it.
  [ "$(basename "$so")" = no_entry.so ] && continue
  if grep -q ' switchboard_module_entry$' <<<"$syms"; then echo "ok $so exports switchboard_module_entry"
  else echo "not ok $so does not export switchboard_module_entry"; status=1; fi
  # The modules we ship export nothing else (modules/exports.map).
  case "$so" in "$build"/modules/*)
    extra=$(nm -D --defined-only "$so" | grep -vc ' switchboard_module_entry$' || true)
    if [ "$extra" -eq 0 ]; then echo "ok $so exports nothing but its entry symbol"
    else echo "not ok $so exports $extra symbols besides its entry symbol"; status=1; fi;;
  esac
done
[ "$count" -gt 0 ] || { echo "not ok no modules found under $build"; status=1; }
exit $status
