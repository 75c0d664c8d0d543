# Runs inside fresh network, pid and mount namespaces (see deb-root.sh),
# with /proc of the throwaway root mounted: the packaged daemon runs as the
# switchboard user on the shipped config, takes a real client, reloads on
# SIGHUP with modules built out of tree, drains on SIGTERM; then the
# package is upgraded over an edited conffile, removed and purged. Port
# 3000 of the shipped config is this namespace's own.
set -uo pipefail
source "$SB_HERE/lib.sh"
root=$SB_ROOT
config=/etc/switchboard/switchboard.yaml
as_service() { chroot --userspec="$SB_UID:$SB_GID" --groups="$SB_GID" "$root" "$@"; }

ip link set lo up
check "the unit's ExecStartPre (switchboard -t) passes as the switchboard user on the shipped config" \
  as_service /usr/sbin/switchboard -t -c "$config"

daemon_log="$SB_WORK/daemon.log"
# Started directly (not through a function) so that $! is the daemon itself.
chroot --userspec="$SB_UID:$SB_GID" --groups="$SB_GID" "$root" \
  /bin/sh -c "cd /var/lib/switchboard && exec /usr/sbin/switchboard -c $config" >"$daemon_log" 2>&1 &
daemon=$!
if wait_for 30 curl -sf http://127.0.0.1:3000/healthz; then
  echo "ok - the packaged daemon starts on the shipped config and answers /healthz"
else
  echo "not ok - the packaged daemon starts on the shipped config and answers /healthz"
  tail -n 20 "$daemon_log" | sed 's/^/# /'
fi
check_grep "the daemon runs as the switchboard user" "^Uid:[[:space:]]+$SB_UID[[:space:]]" "$(cat "$root/proc/$daemon/status" 2>&1)"
check_grep "a raw Engine.IO v4 handshake over HTTP gets a session" '^0\{"sid":"[^"]+","upgrades":\["websocket"\]' \
  "$(curl -s 'http://127.0.0.1:3000/socket.io/?EIO=4&transport=polling')"

# What an operator does to enable the modules: edit the config, check it, reload.
cat >"$SB_WORK/reload.sh" <<RELOAD
set -e
sed -i -e 's/^  echo: {}.*/&\n  hello: {config: {greeting: howdy}}\n  greeter: {config: {prefix: hey}}/' \
       -e 's/^    modules: \[echo\]/    modules: [echo, hello, greeter]/' "$root$config"
chroot --userspec=$SB_UID:$SB_GID --groups=$SB_GID "$root" /usr/sbin/switchboard -t -c $config
kill -HUP $daemon
RELOAD
node "$SB_HERE/client.js" http://127.0.0.1:3000 "bash $SB_WORK/reload.sh"
check_grep "the daemon logged the reload adding the out-of-tree modules" \
  'reload complete \(SIGHUP\): modules added: hello, greeter' "$(cat "$daemon_log")"
check "the switchboard user can write its state directory /var/lib/switchboard" \
  as_service /bin/sh -c 'echo kept > /var/lib/switchboard/state-written-by-the-service'

kill -TERM "$daemon"
wait "$daemon"
status=$?
if [ "$status" -eq 0 ]; then echo "ok - SIGTERM drains and the daemon exits 0"
else echo "not ok - SIGTERM drains and the daemon exits 0 (exit $status)"; tail -n 20 "$daemon_log" | sed 's/^/# /'; fi

# An upgrade whose package changes the conffile the operator edited: dpkg
# keeps the edit and puts the new version beside it (what apt does with
# --force-confdef --force-confold, the unattended default).
repack="$SB_WORK/repack"
dpkg-deb -R "$SB_DEB" "$repack"
upgrade_version="$(sed -n 's/^Version: //p' "$repack/DEBIAN/control")+upgradetest1"
sed -i "s/^Version: .*/Version: $upgrade_version/" "$repack/DEBIAN/control"
echo "# changed by the upgrade" >>"$repack$config"
(cd "$repack" && sed -i "s|^[0-9a-f]*  ${config#/}\$|$(md5sum "${config#/}" | cut -d' ' -f1)  ${config#/}|" DEBIAN/md5sums)
dpkg-deb -b --root-owner-group "$repack" "$root/tmp/switchboard-upgrade.deb" >/dev/null
check "the package upgrades over an edited conffile" \
  chroot "$root" dpkg -i --force-confdef --force-confold /tmp/switchboard-upgrade.deb
check_grep "the upgrade kept the operator's edit of $config" 'modules: \[echo, hello, greeter\]' "$(cat "$root$config")"
check_grep "the upgrade put the package's new version beside it as switchboard.yaml.dpkg-dist" '^# changed by the upgrade$' \
  "$(cat "$root$config.dpkg-dist" 2>&1)"

# Remove keeps the configuration; purge removes configuration and data.
rm -f "$root$SB_MODULEDIR/hello.so" "$root$SB_MODULEDIR/greeter.so" "$root/tmp/switchboard-upgrade.deb"
check "apt-get remove switchboard" chroot "$root" apt-get remove -y -qq switchboard
check "after remove the configuration stays" test -f "$root$config"
check "apt-get purge switchboard" chroot "$root" apt-get purge -y -qq switchboard
check "purge removed /etc/switchboard (the conffile and the .dpkg-dist beside it)" test ! -e "$root/etc/switchboard"
check "purge removed the state directory /var/lib/switchboard" test ! -e "$root/var/lib/switchboard"
check "purge left no trace in dpkg's database" test -z "$(chroot "$root" dpkg-query -W -f='${db:Status-Abbrev}' switchboard 2>/dev/null)"
check "purge removed the service's enablement symlink" test ! -e "$root/etc/systemd/system/multi-user.target.wants/switchboard.service"
check_grep "the switchboard system user stays after purge (Debian keeps system users)" '^switchboard:' \
  "$(chroot "$root" getent passwd switchboard)"
