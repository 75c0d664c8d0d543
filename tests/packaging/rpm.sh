# RPM stage (sourced by tests/packaging/run): what the packages contain and
# declare, then an install into a scratch rpm root (--root; scriptlets off,
# as the scratch root has no shell) and an erase that keeps an edited
# configuration file.

rpm_main=$(ls "$SB_PKGDIR"/switchboard-"$SB_VERSION"-*.x86_64.rpm 2>/dev/null | head -n 1)
rpm_devel=$(ls "$SB_PKGDIR"/switchboard-devel-"$SB_VERSION"-*.x86_64.rpm 2>/dev/null | head -n 1)
if [ -z "$rpm_main" ] || [ -z "$rpm_devel" ]; then
  echo "not ok - the switchboard and switchboard-devel RPMs for $SB_VERSION exist in $SB_PKGDIR"
else
  files=$(rpm -qpl "$rpm_main")
  check_grep "rpm -qpl: the daemon is /usr/sbin/switchboard" '^/usr/sbin/switchboard$' "$files"
  check_grep "rpm -qpl: bundled modules in /usr/lib64/switchboard/modules" '^/usr/lib64/switchboard/modules/echo\.so$' "$files"
  check_grep "rpm -qpl: the systemd unit" '^/usr/lib/systemd/system/switchboard\.service$' "$files"
  check_grep "rpm -qpl: the sysusers.d entry" '^/usr/lib/sysusers\.d/switchboard\.conf$' "$files"
  check_grep "rpm -qpl: the switchboard(8) manual page" '^/usr/share/man/man8/switchboard\.8\.gz$' "$files"
  devel_files=$(rpm -qpl "$rpm_devel")
  check_grep "rpm -qpl devel: module.h" '^/usr/include/switchboard/module\.h$' "$devel_files"
  check_grep "rpm -qpl devel: module.hpp" '^/usr/include/switchboard/module\.hpp$' "$devel_files"
  check_grep "rpm -qpl devel: switchboard-module.pc" '^/usr/lib64/pkgconfig/switchboard-module\.pc$' "$devel_files"

  check_grep "rpm --configfiles: /etc/switchboard/switchboard.yaml is the one configuration file" \
    '^/etc/switchboard/switchboard\.yaml$' "$(rpm -qp --configfiles "$rpm_main")"
  check_grep "the configuration file is %config(noreplace)" '^cn /etc/switchboard/switchboard\.yaml$' \
    "$(rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm_main")"
  check_grep "the RPM version is meson.build's" "^$SB_VERSION\$" "$(rpm -qp --qf '%{VERSION}\n' "$rpm_main")"
  scripts=$(rpm -qp --scripts "$rpm_main")
  check_grep "rpm --scripts: preinstall creates the switchboard system user" 'useradd -r -g switchboard' "$scripts"
  check_grep "rpm --scripts: postinstall applies the systemd preset" 'systemctl --no-reload preset switchboard\.service' "$scripts"
  check_grep "rpm --scripts: preuninstall stops and disables the service on erase" 'systemctl --no-reload disable --now switchboard\.service' "$scripts"

  rpmroot="$SB_WORK/rpmroot"
  mkdir -p "$rpmroot"
  check "rpm --root: both RPMs install into a scratch root" \
    rpm --root "$rpmroot" -i --nodeps --noscripts "$rpm_main" "$rpm_devel"
  check "rpm --root -V: every installed file is as packaged" \
    rpm --root "$rpmroot" -V --nodeps --nouser --nogroup switchboard switchboard-devel
  check "the RPM's binary validates its shipped configuration with its bundled modules" \
    "$rpmroot/usr/sbin/switchboard" -t -c "$rpmroot/etc/switchboard/switchboard.yaml" \
      --modules-path "$rpmroot/usr/lib64/switchboard/modules"
  check_grep "the RPM's binary takes its modules directory from the build's libdir" \
    '^/usr/lib64/switchboard/modules$' "$(strings "$rpmroot/usr/sbin/switchboard")"
  echo "# edited by the test" >>"$rpmroot/etc/switchboard/switchboard.yaml"
  check "rpm --root -e: both RPMs erase" rpm --root "$rpmroot" -e --nodeps --noscripts switchboard-devel switchboard
  check "rpm -e keeps the edited configuration as switchboard.yaml.rpmsave" \
    grep -q '^# edited by the test' "$rpmroot/etc/switchboard/switchboard.yaml.rpmsave"
fi
