# Lint stage (sourced by tests/packaging/run): lintian must report no error
# and no warning on the Debian packages; rpmlint no error beyond those a
# Debian-built RPM cannot avoid (filtered, each with its reason, in
# packaging/rpm/switchboard.rpmlintrc and listed in docs/operations.md).

lintian_output=$(lintian --fail-on error,warning --display-info --suppress-tags-from-file /dev/null \
  "$SB_PKGDIR"/switchboard_"$SB_VERSION"-*.changes 2>&1)
lintian_status=$?
echo "# lintian: $(printf '%s\n' "$lintian_output" | grep -cE '^E: ') errors, $(printf '%s\n' "$lintian_output" | grep -cE '^W: ') warnings, $(printf '%s\n' "$lintian_output" | grep -cE '^I: ') infos"
printf '%s\n' "$lintian_output" | grep -E '^[EWI]: ' | sed 's/^/#   /'
if [ "$lintian_status" -eq 0 ]; then
  echo "ok - lintian: no errors or warnings on the .deb packages"
else
  echo "not ok - lintian: errors or warnings on the .deb packages (exit $lintian_status)"
fi

rpmlint_output=$(rpmlint -r "$SB_TOP/packaging/rpm/switchboard.rpmlintrc" "$SB_PKGDIR"/*-"$SB_VERSION"-*.rpm 2>&1)
echo "# rpmlint: $(printf '%s\n' "$rpmlint_output" | grep -E 'packages and .* specfiles checked' | tail -n 1)"
printf '%s\n' "$rpmlint_output" | grep -E ': [EW]: ' | sed 's/^/#   /'
check_grep "rpmlint: no errors on the RPMs beyond the documented ones" ' 0 errors' "$rpmlint_output"
