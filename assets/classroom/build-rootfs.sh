#!/usr/bin/env bash
# Build a Debian 12 (bookworm) root filesystem with netns-tutor installed in it, and prove it
# works by running `tutor selftest` inside it. Run as root.
#
# The result can be packed (--tar) and imported as a container or WSL image, or copied onto a
# disk. Steps: debootstrap -> install.sh in a chroot (/proc, /sys, /dev mounted for it and always
# unmounted again) -> `tutor selftest` inside the tree as root, with no network -> `tutor doctor`
# and `tutor selftest lesson1` as an unprivileged user (reported; the build is judged by the first).
#
# Why the selftest does not use chroot: the kernel refuses to create a user namespace from a
# chroot (unshare(2): EPERM when the caller's root is not its mount namespace's root), and in a
# chroot "/" is not a mount point, so the lab's mount namespace cannot be made private either.
# So the tree is entered the way container runtimes do it: a private mount namespace in which
# the tree is bind-mounted onto itself and becomes "/" with pivot_root. Every mount made there
# belongs to that namespace and disappears with it.
# shellcheck disable=SC2317  # functions called from traps
set -Eeuo pipefail
umask 022

SUITE=bookworm
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT=$(cd "$SCRIPT_DIR/../.." && pwd)
COPY_EXCLUDES=(--exclude=.git --exclude=.venv --exclude=venv --exclude=__pycache__ --exclude='*.pyc'
               --exclude=.pytest_cache --exclude=.mypy_cache --exclude=.ruff_cache --exclude='*.egg-info'
               --exclude=./build --exclude=./dist --exclude=./bench/results)
SRC_IN_ROOT=/var/tmp/netns-tutor-src        # where the project is staged inside the tree
WHEELS_IN_ROOT=/var/tmp/netns-tutor-wheels
CLEAN_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

usage() {
  cat <<'EOF'
Usage: build-rootfs.sh [options] [DIR]

Builds a Debian 12 (bookworm) root filesystem in DIR (default ./build/rootfs) with netns-tutor
installed by install.sh, then runs `tutor selftest` inside it. Run as root. Running it again on
the same DIR reuses the Debian base and re-installs the tutor.

Options:
  --mirror URL           Debian mirror (default: the one this machine's apt uses,
                         else http://deb.debian.org/debian)
  --offline-wheels DIR   install the tutor from a folder made by install.sh --download-wheels,
                         with the network cut off (proves the offline install)
  --host-ca              trust this machine's local CAs (/usr/local/share/ca-certificates) in
                         the tree too: for a network whose proxy re-signs TLS
  --tar                  also pack the tree into DIR.tar.gz
  --no-selftest          skip the selftest (not recommended)
  -h, --help             this text
EOF
}

say() { printf 'build-rootfs: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

ROOT="" MIRROR="" WHEELS="" TAR=0 SELFTEST=1 HOST_CA=0
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --mirror) MIRROR=${2:?--mirror needs a URL}; shift 2 ;;
    --offline-wheels) WHEELS=${2:?--offline-wheels needs a folder}; shift 2 ;;
    --tar) TAR=1; shift ;;
    --host-ca) HOST_CA=1; shift ;;
    --no-selftest) SELFTEST=0; shift ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$ROOT" ] || die "only one DIR may be given"; ROOT=$1; shift ;;
  esac
done
ROOT=${ROOT:-./build/rootfs}

[ "$(id -u)" = 0 ] || die "run this as root (debootstrap, chroot and mounts need it)"
case $ROOT in *[[:space:]]*) die "DIR must not contain spaces" ;; esac
mkdir -p "$ROOT"
ROOT=$(cd "$ROOT" && pwd -P)
case $ROOT in
  /|/bin|/boot|/dev|/etc|/home|/lib|/lib64|/opt|/proc|/root|/run|/sbin|/srv|/sys|/tmp|/usr|/var)
    die "refusing to build into $ROOT: give a folder of its own, e.g. ./build/rootfs" ;;
esac
case $PROJECT/ in "$ROOT"/*) die "DIR must not contain the project itself ($PROJECT)" ;; esac
if [ -n "$(ls -A "$ROOT")" ] && [ ! -f "$ROOT/etc/debian_version" ]; then
  die "$ROOT is not empty and holds no Debian tree; give an empty or new folder"
fi
if [ -n "$WHEELS" ]; then
  [ -d "$WHEELS" ] || die "--offline-wheels: no such folder $WHEELS"
  WHEELS=$(cd "$WHEELS" && pwd)
fi

# ---------------------------------------------------------------- mounts, always undone
mounts_under_root() {  # mount points below $ROOT, deepest first
  awk -v r="$ROOT/" 'index($5, r) == 1 {print $5}' /proc/self/mountinfo | sort -r
}
unmount_all() {
  local m
  for m in $(mounts_under_root); do
    umount "$m" 2>/dev/null || umount -l "$m" || say "could not unmount $m"
  done
}
cleanup() {
  local rc=$?
  unmount_all
  rm -f "$ROOT/usr/sbin/policy-rc.d"
  rm -rf "${ROOT:?}$SRC_IN_ROOT" "${ROOT:?}$WHEELS_IN_ROOT"
  [ -z "$(mounts_under_root)" ] || say "WARNING: mounts are left under $ROOT: $(mounts_under_root | tr '\n' ' ')"
  exit "$rc"
}
trap cleanup EXIT
trap 'say "failed at line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT TERM

mount_for_chroot() {
  mount -t proc proc "$ROOT/proc"
  mount -t sysfs sysfs "$ROOT/sys"
  # /dev alone, not recursively: its submounts stay out, so undoing it cannot touch the host's
  mount --bind /dev "$ROOT/dev"
  mount --make-private "$ROOT/dev"
}

in_chroot() {  # run a command in the tree with a clean environment
  chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=$CLEAN_PATH LANG=C.UTF-8 TERM=dumb \
    DEBIAN_FRONTEND=noninteractive "$@"
}

# ---------------------------------------------------------------- the Debian base
host_mirror() {  # $1: debian or debian-security; the URI this machine's apt uses for it
  local want=$1
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } |
    grep -v '^\s*#' | grep -oE '(https?|file)://[^ ]+' | sed 's,/*$,,' |
    awk -v w="/$want" '!f && substr($0, length($0) - length(w) + 1) == w {print; f = 1}'
}

phase() { PHASE_NAME=$1; PHASE_START=$(date +%s); say "== $1"; }
phase_done() { TIMES+=("$PHASE_NAME: $(( $(date +%s) - PHASE_START )) s"); }
TIMES=()
START=$(date +%s)

command -v debootstrap >/dev/null || {
  say "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
}
for tool in unshare pivot_root setpriv chroot; do
  command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin:/sbin command -v "$tool" >/dev/null ||
    die "$tool is missing (apt-get install util-linux coreutils)"
done
MIRROR=${MIRROR:-$(host_mirror debian)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=$(host_mirror debian-security)
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}

if [ -x "$ROOT/usr/bin/apt-get" ] && [ -f "$ROOT/var/lib/dpkg/status" ] && [ ! -d "$ROOT/debootstrap" ]; then
  say "reusing the Debian base already in $ROOT"
else
  phase "debootstrap $SUITE from $MIRROR into $ROOT"
  debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR"
  phase_done
fi
cat > "$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY $SUITE-security main
EOF
echo netns-tutor > "$ROOT/etc/hostname"
grep -q netns-tutor "$ROOT/etc/hosts" 2>/dev/null || echo "127.0.1.1	netns-tutor" >> "$ROOT/etc/hosts"
# no service may start inside the chroot while packages are installed
printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"

# ---------------------------------------------------------------- the tutor, by install.sh
phase "install.sh in a chroot${WHEELS:+ (offline: no network, from $WHEELS)}"
rm -rf "${ROOT:?}$SRC_IN_ROOT"
mkdir -p "$ROOT$SRC_IN_ROOT"
tar -C "$PROJECT" "${COPY_EXCLUDES[@]}" -cf - . | tar -C "$ROOT$SRC_IN_ROOT" --no-same-owner -xf -
install_args=()
if [ -n "$WHEELS" ]; then
  rm -rf "${ROOT:?}$WHEELS_IN_ROOT"
  cp -r "$WHEELS" "$ROOT$WHEELS_IN_ROOT"
  install_args=(--offline-wheels "$WHEELS_IN_ROOT")
fi
mount_for_chroot
if [ "$HOST_CA" = 1 ]; then
  mkdir -p "$ROOT/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/" 2>/dev/null ||
    say "--host-ca: no CA in /usr/local/share/ca-certificates"
  # ca-certificates is not there on a first build: install.sh brings it, and it reads them
  if [ -x "$ROOT/usr/sbin/update-ca-certificates" ]; then in_chroot update-ca-certificates >/dev/null; fi
fi
if [ -z "$WHEELS" ]; then
  # debootstrap takes the release as first published: bring in its updates and security fixes
  in_chroot apt-get -q update
  in_chroot apt-get -y -q -o Dpkg::Use-Pty=0 upgrade
fi
if [ -n "$WHEELS" ]; then
  # a network namespace of its own with nothing in it: the install cannot reach anything
  unshare --net -- chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=$CLEAN_PATH LANG=C.UTF-8 TERM=dumb \
    bash "$SRC_IN_ROOT/assets/classroom/install.sh" "${install_args[@]}"
else
  in_chroot bash "$SRC_IN_ROOT/assets/classroom/install.sh"
fi
in_chroot apt-get clean
unmount_all
rm -f "$ROOT/usr/sbin/policy-rc.d"
rm -rf "${ROOT:?}$SRC_IN_ROOT" "${ROOT:?}$WHEELS_IN_ROOT"
phase_done

# ---------------------------------------------------------------- the proof: tutor selftest
# Runs in new mount, PID and network namespaces: the tree becomes "/" by pivot_root, gets its
# own /proc, /sys, /dev, /tmp and /run, sees no network at all, and every process and mount of
# the test ends with the namespaces (unshare --kill-child).
# shellcheck disable=SC2016  # the inner script is expanded by the shell that runs it
enter_tree() {  # $1: script to run as root inside the tree (bash -c)
  unshare --mount --pid --net --fork --kill-child --propagation private -- \
    /bin/bash -euc '
      root=$1; shift
      mount --bind "$root" "$root"
      mount -t proc proc "$root/proc"
      mount -t sysfs sysfs "$root/sys"
      mount --rbind /dev "$root/dev"
      mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
      mount -t tmpfs -o mode=755 tmpfs "$root/run"
      cd "$root"
      pivot_root . mnt
      # no exec: this shell stays PID 1 of the namespace and reaps the orphans the lab leaves
      chroot . /usr/bin/env -i PATH="'"$CLEAN_PATH"'" LANG=C.UTF-8 TERM=dumb /bin/bash -euc "umount -l /mnt; $1"
    ' enter "$ROOT" "$1"
}

SELFTEST_RC=0 STUDENT_RC=0
if [ "$SELFTEST" = 1 ]; then
  phase "tutor selftest inside $ROOT as root (new mount/PID/net namespaces via pivot_root, no network)"
  # HOME on the tree's private /tmp, so nothing the run writes stays in the image
  enter_tree "mkdir -p /tmp/root; export HOME=/tmp/root
    echo '-- tutor doctor (root):'; tutor doctor
    echo '-- tutor selftest (root):'; tutor selftest" || SELFTEST_RC=$?
  phase_done
  # A student is not root: the same as an unprivileged user (nobody, uid 65534). Reported, but
  # the build is judged by the selftest above.
  phase "tutor doctor and tutor selftest lesson1 inside $ROOT as an unprivileged user"
  as_student='setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp/student'
  enter_tree "mkdir -p /tmp/student; chown 65534:65534 /tmp/student
    echo '-- tutor doctor (uid 65534):'; $as_student tutor doctor
    echo '-- tutor selftest lesson1 (uid 65534):'; $as_student tutor selftest lesson1" || STUDENT_RC=$?
  phase_done
  [ -z "$(mounts_under_root)" ] || die "mounts left under $ROOT after the selftest"
fi

if [ "$TAR" = 1 ] && [ "$SELFTEST_RC" = 0 ]; then
  phase "packing $ROOT.tar.gz"
  tar --numeric-owner --xattrs --one-file-system -C "$ROOT" -czf "$ROOT.tar.gz" .
  say "packed: $ROOT.tar.gz ($(du -h "$ROOT.tar.gz" | cut -f1))"
  phase_done
fi

say "times: ${TIMES[*]/%/;} total: $(( $(date +%s) - START )) s"
say "size of $ROOT: $(du -sh --one-file-system "$ROOT" | cut -f1)"
if [ "$STUDENT_RC" != 0 ]; then
  say "WARNING: as an unprivileged user the lab did not pass (exit $STUDENT_RC, output above):" \
      "students who are not root would hit this"
fi
if [ "$SELFTEST_RC" != 0 ]; then
  die "tutor selftest FAILED inside $ROOT (exit $SELFTEST_RC)"
fi
[ "$SELFTEST" = 1 ] && say "tutor selftest passed inside $ROOT"
say "done: $ROOT"
