#!/usr/bin/env bash
# Install netns-tutor on a classroom machine (Debian 12, Ubuntu 22.04 or newer), as root.
#
# Puts the project in /opt/netns-tutor with its own venv, `tutor` on every user's PATH, and a
# class drop folder /opt/netns-tutor/handin for `tutor submit` (students write, teachers read).
# Running it again updates the copy and the venv; nothing else changes. With --prefix DIR,
# every file it writes is under DIR (the command too, unless --bin-dir says where to link it).
#
# Why an editable install (`pip install -e /opt/netns-tutor`): tutor finds its lessons at
# <package folder>/../lessons (tutor/lesson.py). A plain `pip install` would move the package
# into the venv's site-packages, away from lessons/; the editable install imports it from
# /opt/netns-tutor/tutor, which stays where it is, so the lessons (and any lesson an instructor
# adds to /opt/netns-tutor/lessons) are found with no extra setting.
# shellcheck disable=SC1091  # /etc/os-release is read where the script runs
set -Eeuo pipefail
umask 022

PREFIX=/opt/netns-tutor
BIN_DIR=""            # where the `tutor` link goes: /usr/local/bin, or none with --prefix
TEACHERS=netns-tutor-teachers
ORIG_ARGS=("$@")      # quoted back in the refusal line
SYSCTL_FILE=/etc/sysctl.d/60-netns-tutor-userns.conf
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# what is never copied into the installed tree (names anywhere; ./build, ./dist at the top only)
COPY_EXCLUDES=(--exclude=.git --exclude=.venv --exclude=venv --exclude=__pycache__ --exclude='*.pyc'
               --exclude=.pytest_cache --exclude=.mypy_cache --exclude=.ruff_cache --exclude='*.egg-info'
               --exclude=./build --exclude=./dist --exclude=./bench/results --exclude=./handin)

usage() {
  cat <<'EOF'
Usage: install.sh [options] [SOURCE]
       install.sh --download-wheels DIR [SOURCE]

Installs netns-tutor for every user of this machine (run as root): the system packages it
needs, the project in /opt/netns-tutor with its own venv, /usr/local/bin/tutor, and the
class drop folder /opt/netns-tutor/handin (students hand in with `tutor submit`; members of
the group netns-tutor-teachers read it with `tutor report`).

SOURCE is the project to install: a folder or a .tar.gz of it (default: the project this
script belongs to). Running the script again updates the installation.

Options:
  --offline-wheels DIR   install with no network at all, from a folder made by
                         --download-wheels (Python wheels, plus Debian packages in DIR/debs)
  --download-wheels DIR  on a connected machine of the same release as the classroom VMs:
                         fill DIR with everything an offline install needs, then stop
  --allow-userns         if the kernel stops unprivileged user namespaces (Ubuntu's
                         kernel.apparmor_restrict_unprivileged_userns=1), lift that with a
                         file in /etc/sysctl.d so students can run the lab without root
  --prefix DIR           install somewhere else than /opt/netns-tutor; nothing is then
                         written outside DIR (no /usr/local/bin/tutor unless --bin-dir)
  --bin-dir DIR          link `tutor` into DIR (default /usr/local/bin; none with --prefix)
  --teachers GROUP       the group that may read the drop folder (default
                         netns-tutor-teachers, created if missing)
  -h, --help             this text

Examples:
  sudo ./install.sh
  sudo ./install.sh --allow-userns /tmp/netns-tutor.tar.gz
  ./install.sh --download-wheels /media/usb/netns-tutor            # connected machine
  sudo ./install.sh --offline-wheels /media/usb/netns-tutor \
       /media/usb/netns-tutor/netns-tutor.tar.gz                    # offline VM
EOF
}

say() { printf 'netns-tutor: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

WHEELS="" DOWNLOAD="" ALLOW_USERNS=0 SOURCE="" PREFIX_GIVEN=0 TEACHERS_GIVEN=0
while [ $# -gt 0 ]; do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --offline-wheels) WHEELS=${2:?--offline-wheels needs a folder}; shift 2 ;;
    --download-wheels) DOWNLOAD=${2:?--download-wheels needs a folder}; shift 2 ;;
    --allow-userns) ALLOW_USERNS=1; shift ;;
    --prefix) PREFIX=${2:?--prefix needs a folder}; PREFIX_GIVEN=1; shift 2 ;;
    --bin-dir) BIN_DIR=${2:?--bin-dir needs a folder}; shift 2 ;;
    --teachers) TEACHERS=${2:?--teachers needs a group}; TEACHERS_GIVEN=1; shift 2 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$SOURCE" ] || die "only one SOURCE may be given"; SOURCE=$1; shift ;;
  esac
done
[ -n "$WHEELS" ] && [ -n "$DOWNLOAD" ] && die "--offline-wheels and --download-wheels exclude each other"
case $PREFIX in /?*) ;; *) die "--prefix must be an absolute path other than /" ;; esac
PREFIX=${PREFIX%/}
if [ -z "$BIN_DIR" ] && [ "$PREFIX_GIVEN" = 0 ]; then BIN_DIR=/usr/local/bin; fi
case $BIN_DIR in ''|/?*) ;; *) die "--bin-dir must be an absolute path" ;; esac
BIN_DIR=${BIN_DIR%/}
# the command students type: the link, or (with --prefix and no --bin-dir) the venv's own
if [ -n "$BIN_DIR" ]; then TUTOR_CMD=$BIN_DIR/tutor; else TUTOR_CMD=$PREFIX/.venv/bin/tutor; fi
STUDENT_UID=65534     # nobody: the non-root account the install is proven with

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
trap 'say "failed at line $LINENO: $BASH_COMMAND"' ERR

# ---------------------------------------------------------------- the system packages
# What the course runs: the set bin/_setup.sh and `tutor doctor` check, plus procps for
# `sysctl` (lesson 3 types `sysctl -w net.ipv4.ip_forward=1`), which minimal images lack, and
# the CNI plugins (the `cni` lesson runs them).
BASE_PACKAGES=(iproute2 iptables iputils-ping net-tools curl bind9-dnsutils util-linux bsdutils bash procps bridge-utils tcpdump
               containernetworking-plugins
               ca-certificates)

# The Python packages: python3 where the release's python3 is 3.11 or newer (Debian 12,
# Ubuntu 24.04), else python3.11 (Ubuntu 22.04 has it in its archive next to python3.10).
python_packages() {
  local cand
  cand=$(apt-cache "${APT_OPTS[@]}" policy python3 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [ -z "$cand" ] || [ "$cand" = "(none)" ] || dpkg --compare-versions "$cand" ge 3.11; then
    echo python3 python3-venv
  else
    echo python3.11 python3.11-venv
  fi
}

missing_packages() {  # the packages of "$@" that dpkg does not have installed, on one line
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || printf '%s ' "$p"
  done
}

apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0 "${APT_OPTS[@]}" "$@"; }

# Offline, apt reads only DIR/debs, a flat repository made by --download-wheels, through package
# lists of our own (the machine's lists stay as they were), and resolves dependencies from it
# like any install.
APT_OPTS=()
use_offline_repo() {
  local debs=$WHEELS/debs
  [ -f "$debs/Packages" ] || die "system packages are missing and $debs/Packages does not exist;" \
    "prepare the folder with --download-wheels on a connected machine of this release"
  mkdir -p "$TMP/lists/partial"
  echo "deb [trusted=yes] file:$debs ./" > "$TMP/sources.list"
  APT_OPTS=(-o "Dir::Etc::SourceList=$TMP/sources.list" -o "Dir::Etc::SourceParts=$TMP/none"
            -o "Dir::State::Lists=$TMP/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
            -o APT::Sandbox::User=root)
}

install_packages() {
  local py missing
  read -r -a py <<< "$(python_packages)"
  missing=$(missing_packages "${BASE_PACKAGES[@]}" "${py[@]}")
  if [ -z "$missing" ]; then
    say "system packages: all present"
    return 0
  fi
  [ -z "$WHEELS" ] || use_offline_repo
  apt_get update
  # ask again now that apt knows the release's python3 (Ubuntu 22.04 needs python3.11)
  read -r -a py <<< "$(python_packages)"
  missing=$(missing_packages "${BASE_PACKAGES[@]}" "${py[@]}")
  say "system packages: installing $missing${WHEELS:+ from $WHEELS/debs}"
  # shellcheck disable=SC2086  # a list of package names
  apt_get install --no-install-recommends $missing
}

# A system Python that every account can run: only /usr/bin is looked at (root's PATH may
# hold one under /root, which students cannot read: their `tutor` would then fail with "bad
# interpreter: Permission denied"), and as root it is tried as a non-root account too.
PYTHON_CANDIDATES="/usr/bin/python3.13 /usr/bin/python3.12 /usr/bin/python3.11 /usr/bin/python3"
find_python() {  # a Python 3.11+ with venv that every account can run, or nothing
  local py
  for py in $PYTHON_CANDIDATES; do
    [ -x "$py" ] || continue
    if as_student "$py" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  return 1
}

as_student() {  # run "$@" as a non-root account (as root), or as we are (not root)
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid="$STUDENT_UID" --regid="$STUDENT_UID" --clear-groups -- "$@"
  else
    "$@"
  fi
}

# ---------------------------------------------------------------- the project's files
resolve_source() {  # prints the project folder to install from
  local src=${SOURCE:-$(cd "$SCRIPT_DIR/../.." && pwd)}
  if [ -f "$src" ]; then
    mkdir -p "$TMP/src"
    tar -xzf "$src" -C "$TMP/src" || die "$src is not a .tar.gz of the project"
    src=$TMP/src
    # a tarball usually holds one top folder (git archive --prefix=netns-tutor/)
    if [ ! -f "$src/pyproject.toml" ]; then
      local tops=("$src"/*)
      [ ${#tops[@]} -eq 1 ] && [ -d "${tops[0]}" ] && src=${tops[0]}
    fi
  fi
  [ -d "$src" ] || die "no such folder or file: $src"
  src=$(cd "$src" && pwd)
  is_project "$src" || die "$src is not the netns-tutor project (no pyproject.toml naming netns-tutor)"
  echo "$src"
}

is_project() { grep -qs '^name = "netns-tutor"' "$1/pyproject.toml"; }

copy_project() {  # $1: source folder
  local src=$1
  if [ "$(readlink -f "$src")" = "$(readlink -f "$PREFIX")" ]; then
    say "project: already in $PREFIX"
    return 0
  fi
  if [ -d "$PREFIX" ] && [ -n "$(ls -A "$PREFIX")" ] && ! is_project "$PREFIX"; then
    die "$PREFIX exists and is not a netns-tutor installation; remove it or choose --prefix"
  fi
  say "project: copying $src to $PREFIX"
  mkdir -p "$PREFIX"
  # replace the old copy wholesale (a file removed from the project must go), keep the venv
  # and what students handed in
  find "$PREFIX" -mindepth 1 -maxdepth 1 ! -name .venv ! -name handin -exec rm -rf {} +
  tar -C "$src" "${COPY_EXCLUDES[@]}" -cf - . | tar -C "$PREFIX" --no-same-owner -xf -
  chmod -R u+rwX,go+rX,go-w "$PREFIX"
}

make_venv() {
  local py venv=$PREFIX/.venv pip_opts=(--disable-pip-version-check --no-input -q)
  py=$(find_python) || die "no Python 3.11 or newer with venv that every account can run in /usr/bin" \
    "after installing packages ($PYTHON_CANDIDATES)"
  # a venv students cannot run (made from a Python under /root, say) is as good as none
  if [ -x "$venv/bin/python" ] && ! as_student "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    say "venv: $venv is broken, too old or not runnable by every account; making a new one"
    rm -rf "$venv"
  fi
  [ -x "$venv/bin/python" ] || { say "venv: creating $venv with $py"; "$py" -m venv "$venv"; }
  if [ -n "$WHEELS" ]; then
    pip_opts+=(--no-index --find-links "$WHEELS")
  elif [ -z "${PIP_CERT:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    # pip trusts the machine's CA store, so a CA that a school's TLS proxy needs works once
    # it is installed on the machine (update-ca-certificates)
    export PIP_CERT=/etc/ssl/certs/ca-certificates.crt
  fi
  say "venv: installing the project (editable) ${WHEELS:+from $WHEELS, no network}"
  "$venv/bin/python" -m pip install "${pip_opts[@]}" --config-settings editable_mode=compat -e "$PREFIX"
  # students cannot write here, so compile now rather than on every start
  "$venv/bin/python" -m compileall -q "$PREFIX/tutor" >/dev/null || true
  chmod -R go+rX,go-w "$venv"
}

check_as_student() {  # the installed command, run as a non-root account, finds the lessons
  local out home=$TMP/student-home
  mkdir -p "$home"
  chmod 711 "$TMP"
  chown "$STUDENT_UID:$STUDENT_UID" "$home"
  out=$(as_student env -i HOME="$home" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
        "$TUTOR_CMD" list 2>&1) ||
    die "the install does not work for other accounts: \`tutor list\` as uid $STUDENT_UID failed: $out"
  grep -q lesson1 <<< "$out" || die "tutor does not find its lessons (as uid $STUDENT_UID): $out"
  say "lessons found (tutor list, as uid $STUDENT_UID, a non-root account):"
  printf '%s\n' "$out" >&2
}

# ---------------------------------------------------------------- the class drop folder
# Students write into it (tutor submit: ACCOUNT.json, 0640), never list it or replace another's
# file (sticky); the teachers' group reads it (setgid: every file handed in gets that group).
setup_handin() {
  local dir=$PREFIX/handin
  if ! getent group "$TEACHERS" >/dev/null; then
    [ "$TEACHERS_GIVEN" = 0 ] || die "--teachers: there is no group $TEACHERS"
    groupadd --system "$TEACHERS"
    say "group: created $TEACHERS (add a teacher with: sudo usermod -aG $TEACHERS NAME)"
  fi
  mkdir -p "$dir"
  chown "root:$TEACHERS" "$dir"
  chmod 3773 "$dir"
  say "drop folder: $dir (students: tutor submit; group $TEACHERS: tutor report)"
}

# ---------------------------------------------------------------- user namespaces
in_chroot() {  # true when / is not the root of PID 1 (a chroot, e.g. while building an image)
  [ -r /proc/1/root ] || return 0
  [ "$(stat -Lc %d:%i /)" != "$(stat -Lc %d:%i /proc/1/root 2>/dev/null || echo none)" ]
}

userns_setup() {
  local aa=/proc/sys/kernel/apparmor_restrict_unprivileged_userns
  local clone=/proc/sys/kernel/unprivileged_userns_clone
  local maxns=/proc/sys/user/max_user_namespaces
  local lines=() problem=""
  if [ "$(cat "$aa" 2>/dev/null)" = 1 ]; then
    problem="AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1, Ubuntu's default since 23.10)"
    lines+=("kernel.apparmor_restrict_unprivileged_userns = 0")
  fi
  if [ "$(cat "$clone" 2>/dev/null)" = 0 ]; then
    problem="${problem:+$problem; }unprivileged user namespaces are off (kernel.unprivileged_userns_clone=0)"
    lines+=("kernel.unprivileged_userns_clone = 1")
  fi
  if [ "$(cat "$maxns" 2>/dev/null)" = 0 ]; then
    problem="${problem:+$problem; }user.max_user_namespaces is 0"
    lines+=("user.max_user_namespaces = 15000")
  fi
  if [ -z "$problem" ]; then
    if [ -f "$SYSCTL_FILE" ]; then say "user namespaces: allowed ($SYSCTL_FILE is in place)"
    else say "user namespaces: allowed, students run the lab rootless"; fi
    return 0
  fi
  if [ "$ALLOW_USERNS" = 0 ]; then
    cat >&2 <<EOF
netns-tutor: user namespaces: $problem.
  Students can then start the lab only with sudo (tutor runs it as real root, still in its own
  namespaces). To let them run it without root, allow unprivileged user namespaces:
  run this script again with --allow-userns, which writes $SYSCTL_FILE with
$(printf '      %s\n' "${lines[@]}")
  (this lets every program create user namespaces again, as Debian does by default).
EOF
    return 0
  fi
  { echo "# Written by netns-tutor's install.sh --allow-userns: students run the lab rootless,"
    echo "# in user namespaces. Delete this file (and reboot) to undo."
    printf '%s\n' "${lines[@]}"; } > "$SYSCTL_FILE"
  if in_chroot; then
    say "user namespaces: wrote $SYSCTL_FILE (applied at the next boot; not applied from a chroot)"
  else
    local l
    for l in "${lines[@]}"; do sysctl -q -w "${l// /}" || say "could not apply ${l// /} now; it applies at the next boot"; done
    say "user namespaces: wrote $SYSCTL_FILE and applied it"
  fi
}

# ---------------------------------------------------------------- --download-wheels
download() {
  local dir=$DOWNLOAD src py pip
  src=$(resolve_source)
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  py=$(find_python) || die "--download-wheels needs Python 3.11 or newer with venv on this machine"
  if "$py" -m pip --version >/dev/null 2>&1; then pip=("$py" -m pip)
  else "$py" -m venv "$TMP/venv" && pip=("$TMP/venv/bin/python" -m pip); fi
  say "wheels: downloading the project's Python dependencies into $dir"
  # setuptools and wheel build the project itself during an offline `pip install -e`
  "${pip[@]}" download --disable-pip-version-check -q -d "$dir" "$src" 'setuptools>=68' wheel
  say "project: packing $src into $dir/netns-tutor.tar.gz"
  tar -C "$src" "${COPY_EXCLUDES[@]}" --transform 's,^\.,netns-tutor,' -czf "$dir/netns-tutor.tar.gz" .
  if command -v apt-get >/dev/null; then
    download_debs "$dir/debs"
  else
    say "no apt-get here: the offline machine must already have the system packages"
  fi
  cat >&2 <<EOF
netns-tutor: $dir is ready. On an offline classroom machine ($(. /etc/os-release; echo "$PRETTY_NAME") $(dpkg --print-architecture 2>/dev/null)):
  tar -xzf $dir/netns-tutor.tar.gz -C /tmp
  sudo bash /tmp/netns-tutor/assets/classroom/install.sh --offline-wheels $dir $dir/netns-tutor.tar.gz
EOF
}

# Every Debian package the course needs with all its dependencies, as a flat repository.
# Everything is taken (even what any machine already has) since the offline machine may lack it;
# apt there installs only what is missing.
download_debs() {
  local debs=$1 all
  mkdir -p "$debs"
  if [ "$(id -u)" = 0 ]; then apt_get update >&2; else say "not root: using this machine's package lists as they are"; fi
  read -r -a py <<< "$(python_packages)"
  all=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
          --no-replaces --no-enhances "${BASE_PACKAGES[@]}" "${py[@]}" | grep -E '^[a-z0-9]' | sort -u)
  # keep only real packages with a version to download (virtual ones have no candidate)
  # shellcheck disable=SC2086  # a list of package names
  all=$(apt-cache policy $all 2>/dev/null | awk '/^[a-z0-9]/ {sub(":$", "", $1); p=$1}
                                               /Candidate:/ && $2 != "(none)" {print p}' | sort -u)
  say "debs: downloading $(wc -w <<< "$all") packages into $debs"
  # shellcheck disable=SC2086
  (cd "$debs" && chmod a+rwx . && apt-get download -q $all >/dev/null 2>"$TMP/apt-download.log") ||
    { cat "$TMP/apt-download.log" >&2; die "apt-get download failed"; }
  write_packages_index "$debs"
  { . /etc/os-release; echo "ID=$ID"; echo "VERSION_CODENAME=${VERSION_CODENAME:-}"
    echo "ARCH=$(dpkg --print-architecture)"; } > "$debs/RELEASE"
}

write_packages_index() {  # a Packages file, so apt can use the folder as a repository
  local debs=$1 deb
  : > "$debs/Packages"
  for deb in "$debs"/*.deb; do
    { dpkg-deb -f "$deb"
      echo "Filename: ./$(basename "$deb")"
      echo "Size: $(stat -c %s "$deb")"
      echo "SHA256: $(sha256sum "$deb" | cut -d' ' -f1)"
      echo; } >> "$debs/Packages"
  done
}

check_offline_release() {
  [ -f "$WHEELS/debs/RELEASE" ] || return 0
  local want have
  want=$(grep -E '^(ID|VERSION_CODENAME|ARCH)=' "$WHEELS/debs/RELEASE" | tr '\n' ' ')
  have=$(. /etc/os-release; echo "ID=$ID VERSION_CODENAME=${VERSION_CODENAME:-} ARCH=$(dpkg --print-architecture) ")
  [ "$want" = "$have" ] || say "warning: $WHEELS/debs was made on $want; this machine is $have"
}

# ---------------------------------------------------------------- main
main() {
  if [ -n "$DOWNLOAD" ]; then
    download
    exit 0
  fi

  if [ "$(id -u)" != 0 ]; then
    local again
    again=$(printf '%q' "$0")
    [ ${#ORIG_ARGS[@]} = 0 ] || again+=$(printf ' %q' "${ORIG_ARGS[@]}")
    die "run this as root: sudo bash $again"
  fi
  command -v apt-get >/dev/null || die "this script installs with apt-get (Debian or Ubuntu)"
  if [ -n "$WHEELS" ]; then
    [ -d "$WHEELS" ] || die "--offline-wheels: no such folder $WHEELS"
    WHEELS=$(cd "$WHEELS" && pwd)
    check_offline_release
  fi

  SRC=$(resolve_source)
  install_packages
  copy_project "$SRC"
  make_venv
  if [ -n "$BIN_DIR" ]; then
    mkdir -p "$BIN_DIR"
    ln -sfn "$PREFIX/.venv/bin/tutor" "$TUTOR_CMD"
    say "command: $TUTOR_CMD -> $PREFIX/.venv/bin/tutor"
  else
    say "command: $TUTOR_CMD (--prefix without --bin-dir: nothing linked outside $PREFIX)"
  fi
  setup_handin
  check_as_student
  userns_setup

  echo
  echo "== tutor doctor (as uid $STUDENT_UID, as a student sees it) =="
  local doctor_rc=0 cmd=tutor
  as_student env -i HOME="$TMP/student-home" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
    "$TUTOR_CMD" doctor || doctor_rc=$?
  echo
  [ "$TUTOR_CMD" = /usr/local/bin/tutor ] || cmd=$TUTOR_CMD
  cat <<EOF
netns-tutor is installed. Every user of this machine can now type:
  $cmd            start the course (at the first unfinished lesson)
  $cmd list       the lessons and how far you are
  $cmd doctor     check that a lab can run here
  $cmd config name "Your Name"   the name shown in the instructor's report
  $cmd submit     hand in your progress (into $PREFIX/handin)
Teachers (group $TEACHERS) see the class with: $cmd report
EOF
  [ "$doctor_rc" = 0 ] || say "warning: tutor doctor found a problem (above); a lab may not start"
  exit 0
}

# sourced (by the tests, to call one function): define everything, run nothing
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main; fi
