# Debian stage (sourced by tests/packaging/run): package metadata, a module
# built out of tree from nothing but the switchboard-dev .deb, then a
# throwaway Debian 12 root (mmdebstrap, minbase + the built .deb) checked
# from outside and exercised inside fresh network, pid and mount namespaces
# by deb-inside.sh (the mounts die with the namespace).

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
deb_main=$(ls "$SB_PKGDIR"/switchboard_"$SB_VERSION"-*_amd64.deb 2>/dev/null | head -n 1)
deb_dev=$(ls "$SB_PKGDIR"/switchboard-dev_"$SB_VERSION"-*_amd64.deb 2>/dev/null | head -n 1)
if [ -z "$deb_main" ] || [ -z "$deb_dev" ]; then
  echo "not ok - the switchboard and switchboard-dev .deb for $SB_VERSION exist in $SB_PKGDIR"
  return 0
fi

check_grep "the .deb version is meson.build's" "^$SB_VERSION-[0-9]" "$(dpkg-deb -f "$deb_main" Version)"
check_grep "the .deb declares /etc/switchboard/switchboard.yaml a conffile" '^/etc/switchboard/switchboard\.yaml$' \
  "$(dpkg-deb --ctrl-tarfile "$deb_main" | tar -xOf - ./conffiles)"

# --- an out-of-tree module from the switchboard-dev files alone
sdk="$SB_WORK/sdk"
dpkg-deb -x "$deb_dev" "$sdk"
pkg_env=(env PKG_CONFIG_LIBDIR="$sdk/usr/lib/$multiarch/pkgconfig" PKG_CONFIG_PATH= PKG_CONFIG_SYSROOT_DIR="$sdk")
module_cflags=$("${pkg_env[@]}" pkg-config --cflags switchboard-module)
moduledir=$("${pkg_env[@]}" pkg-config --variable=moduledir switchboard-module)
moduledir=${moduledir#"$sdk"}
check_grep "pkg-config from switchboard-dev: modules go to <libdir>/switchboard/modules" \
  "^/usr/lib/$multiarch/switchboard/modules\$" "$moduledir"
if [ -e /usr/include/switchboard ]; then
  echo "not ok - this machine has no /usr/include/switchboard (it has: the out-of-tree build could not tell which header it used)"
fi
examples="$sdk/usr/share/doc/switchboard-dev/examples"
# -H lists every header the compiler opened: the Switchboard ones must come from the extracted package.
build_module() {
  local compiler=$1 std=$2 source=$3 out=$4 headers
  headers=$("$compiler" -std="$std" -Wall -Wextra -Werror -shared -fPIC -H $module_cflags "$source" -o "$out" 2>&1) || {
    printf '%s\n' "$headers"; return 1; }
  if grep -E 'switchboard/module\.h' <<<"$headers" | grep -v "$sdk/usr/include/switchboard/"; then
    echo "a Switchboard header came from outside the extracted switchboard-dev"; return 1
  fi
  grep -q ' switchboard_module_entry$' <<<"$(readelf -W --dyn-syms "$out")"
}
check "the C example (hello.c) from switchboard-dev builds with pkg-config switchboard-module alone" \
  build_module cc c11 "$examples/hello_c/hello.c" "$SB_WORK/hello.so"
check "the C++ example (greeter.cpp) from switchboard-dev builds with pkg-config switchboard-module alone" \
  build_module c++ c++20 "$examples/greeter_cpp/greeter.cpp" "$SB_WORK/greeter.so"

man_page_is_clean() {
  local warnings
  warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$1" 2>&1 >/dev/null)
  printf '%s' "$warnings"
  [ -z "$warnings" ]
}

# --- the throwaway Debian 12 root
root="$SB_WORK/root"
sources=${SWITCHBOARD_DEBIAN_SOURCES:-/etc/apt/sources.list.d/debian.sources}
[ -f "$sources" ] || sources=/etc/apt/sources.list
debdir=$(dirname "$deb_main")
started=$SECONDS
mmdebstrap_log="$SB_WORK/mmdebstrap.log"
if mmdebstrap --variant=minbase --quiet \
     --include=systemd --include="$deb_main" \
     --setup-hook="mkdir -p \"\$1$debdir\"" --setup-hook="copy-in $deb_main $debdir" \
     --customize-hook="rm -rf \"\$1$debdir\"" --customize-hook='chroot "$1" apt-get clean' \
     bookworm "$root" "$sources" >"$mmdebstrap_log" 2>&1; then
  echo "ok - mmdebstrap makes a Debian 12 minbase root with the built .deb installed"
  echo "# mmdebstrap took $((SECONDS - started))s; root is $(du -sh --one-file-system "$root" | cut -f1)"
else
  echo "not ok - mmdebstrap makes a Debian 12 minbase root with the built .deb installed"
  grep -v '^I:' "$mmdebstrap_log" | tail -n 30 | sed 's/^/# /'
  return 0
fi

passwd_entry=$(chroot "$root" getent passwd switchboard)
check_grep "sysusers created the switchboard system user (home /var/lib/switchboard, no login shell)" \
  '^switchboard:x:[0-9]+:[0-9]+:[^:]*:/var/lib/switchboard:/usr/sbin/nologin$' "$passwd_entry"
check_grep "dpkg registered /etc/switchboard/switchboard.yaml as a conffile" '^ /etc/switchboard/switchboard\.yaml [0-9a-f]{32}$' \
  "$(chroot "$root" dpkg-query -W -f='${Conffiles}\n' switchboard)"
check "the service is enabled on install (multi-user.target.wants)" \
  test -L "$root/etc/systemd/system/multi-user.target.wants/switchboard.service"
verify_output=$(systemd-analyze verify --man=no --root="$root" switchboard.service 2>&1)
verify_status=$?
if [ "$verify_status" -eq 0 ] && [ -z "$verify_output" ]; then
  echo "ok - systemd-analyze verify: the installed unit is clean"
else
  echo "not ok - systemd-analyze verify: the installed unit is clean (exit $verify_status)"
  printf '%s\n' "$verify_output" | sed 's/^/# /'
fi
exposure=$(systemd-analyze security --offline=yes --root="$root" switchboard.service 2>&1 | grep 'Overall exposure level')
check_grep "systemd-analyze security rates the hardening OK" 'exposure level for switchboard\.service: [0-9.]+ OK' "$exposure"
check "switchboard(8) is installed and renders without warnings" man_page_is_clean "$root/usr/share/man/man8/switchboard.8.gz"
check_grep "the packaged binary's default config and modules directory are the installed ones" \
  "configuration file \(default /etc/switchboard/switchboard\.yaml\)" "$(chroot "$root" /usr/sbin/switchboard --help)"

# What the service's StateDirectory= makes, and the out-of-tree modules installed where pkg-config says.
service_uid=$(chroot "$root" id -u switchboard); service_gid=$(chroot "$root" id -g switchboard)
install -d -o "$service_uid" -g "$service_gid" -m 0750 "$root/var/lib/switchboard"
install -m 0644 "$SB_WORK/hello.so" "$SB_WORK/greeter.so" "$root$moduledir/"

SB_ROOT=$root SB_UID=$service_uid SB_GID=$service_gid SB_MODULEDIR=$moduledir SB_DEB=$deb_main \
  unshare --net --pid --fork --mount --mount-proc="$root/proc" -- bash "$SB_HERE/deb-inside.sh"
