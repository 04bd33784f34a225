# shellcheck shell=bash
# Shared set-up for bin/tutor and bin/test: system packages, then the project's venv.
# Idempotent and quick when everything is already there (a stamp file per dependency set).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"

# command -> Debian package the lab needs, from the list `tutor doctor` reads too; the commands
# only one lesson needs (a third word) are TUTOR_FOR_LESSON's: installed when we can, never required
declare -A TUTOR_TOOLS=() TUTOR_FOR_LESSON=()
_tutor_read_tools() {
  local cmd pkg lesson rest
  while read -r cmd pkg lesson rest; do
    case $cmd in ''|'#'*) continue ;; esac
    TUTOR_TOOLS[$cmd]=$pkg
    [ -z "$lesson" ] || TUTOR_FOR_LESSON[$cmd]=$lesson
  done < "$ROOT/tutor/lab/tools.txt"
}
_tutor_read_tools

tutor_missing_packages() {  # "$@": extra commands; with --optional first, the one-lesson ones only
  local cmd missing=() optional=
  [ "${1:-}" = --optional ] && { optional=1; shift; }
  for cmd in "${!TUTOR_TOOLS[@]}" "$@"; do
    if [ -n "$optional" ]; then [ -n "${TUTOR_FOR_LESSON[$cmd]:-}" ] || continue
    else [ -z "${TUTOR_FOR_LESSON[$cmd]:-}" ] || continue; fi
    local pkg=${TUTOR_TOOLS[$cmd]:-$cmd}
    PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  printf '%s\n' "${missing[@]}" | sort -u | grep -v '^$' || true
}

tutor_ensure_packages() {  # extra commands to require may be passed (tmux for tests)
  local missing optional
  missing=$(tutor_missing_packages "$@" | tr '\n' ' ')
  optional=$(tutor_missing_packages --optional | tr '\n' ' ')
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    # a one-lesson package that could not be installed is tried again only when the list changes
    local tried="$VENV/.netns-tutor-optional-tried"
    [ -n "${optional// /}" ] && [ "$(cat "$tried" 2>/dev/null)" = "$optional" ] && optional=
    [ -z "${missing// /}${optional// /}" ] && return 0
    echo "netns-tutor: installing system packages: $missing$optional" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || true
    # the one-lesson packages on their own: where one cannot be had, the rest of the course runs
    [ -z "${optional// /}" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $optional >&2 || {
      echo "netns-tutor: could not install ${optional% } (tutor doctor names the lesson that needs it)" >&2
      mkdir -p "$VENV" && echo "$optional" > "$tried"; }
    [ -z "${missing// /}" ] && return 0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2 || {
        echo "netns-tutor: could not install $missing with apt-get" >&2; return 1; }
  elif [ -z "${missing// /}" ]; then
    return 0   # a one-lesson package missing: `tutor doctor` and that lesson's reset say so
  else
    echo "netns-tutor: these system packages are missing: $missing" >&2
    echo "Install them with:  sudo apt-get install -y $missing" >&2
    return 1
  fi
}

# Of the Pythons 3.11 or newer here that can make a venv (on PATH, and the system's own under
# /usr/bin), the newest whose program holds the interpreter itself; else the newest. One that
# loads it from libpython (pyenv's builds, and others configured --enable-shared) runs all of
# tutor slower: here ~2-3 ms more to start, imports ~25 % and Python code 25-45 % longer
# (bench/README.md, issue 15). An existing venv keeps its Python. TUTOR_PYTHONS: the Pythons to
# rank (names on PATH, or paths).
_TUTOR_PY_RANK='import sys, venv, ensurepip
if sys.version_info < (3, 11): sys.exit(1)
shared = any("libpython" in line for line in open("/proc/self/maps"))
print(sys.version_info[1] + (0 if shared else 1000))'
TUTOR_PYTHONS=${TUTOR_PYTHONS:-python3.13 python3.12 python3.11 python3 /usr/bin/python3.13 /usr/bin/python3.12 /usr/bin/python3.11 /usr/bin/python3}
tutor_find_python() {
  local py rank best="" best_rank=-1
  for py in $TUTOR_PYTHONS; do
    command -v "$py" >/dev/null || continue
    rank=$("$py" -c "$_TUTOR_PY_RANK" 2>/dev/null) || continue
    if [ "$rank" -gt "$best_rank" ]; then best=$py best_rank=$rank; fi
  done
  [ -n "$best" ] && { echo "$best"; return 0; }
  echo "netns-tutor needs Python 3.11 or newer with venv (sudo apt-get install -y python3 python3-venv)" >&2
  return 1
}

tutor_ensure_venv() {  # $1: "" for running, "dev" for the tests too
  local extra=${1:-} stamp hash py
  hash=$(cat "$ROOT/pyproject.toml" "$ROOT/bin/_setup.sh" | sha256sum | cut -c1-16)
  stamp="$VENV/.netns-tutor-installed"   # bin/tutor's quick path reads it by this name too
  if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ]; then
    # a dev install also has everything a plain run needs; the stamp made newer than what the
    # set-up follows lets bin/tutor's next call skip these checks (a checkout touched them)
    if grep -qx "$hash-dev" "$stamp" || { [ -z "$extra" ] && grep -qx "$hash-run" "$stamp"; }; then
      touch "$stamp" 2>/dev/null || true
      return 0
    fi
  fi
  py=$(tutor_find_python) || return 1
  if [ ! -x "$VENV/bin/python" ]; then
    echo "netns-tutor: creating $VENV" >&2
    "$py" -m venv "$VENV" >&2 || {
      echo "netns-tutor: python venv failed (sudo apt-get install -y python3-venv)" >&2; return 1; }
  fi
  echo "netns-tutor: installing the project into $VENV" >&2
  # compat: a plain path in a .pth file; the default import hook costs every `tutor` call ~12 ms
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    --config-settings editable_mode=compat -e "$ROOT${extra:+[$extra]}" >&2 || {
    echo "netns-tutor: pip install failed" >&2; return 1; }
  # bytecode now: with PYTHONDONTWRITEBYTECODE set, or a read-only checkout, every `tutor`
  # call (and every lab agent) would otherwise compile the package again
  "$VENV/bin/python" -m compileall -q "$ROOT/tutor" >/dev/null || true
  echo "$hash-${extra:-run}" > "$stamp"
}

# One name everywhere: the README and every message say `tutor …`. When `tutor` is not on the
# user's PATH, link ~/.local/bin/tutor to this checkout's bin/tutor if ~/.local/bin is on PATH
# (saying so), else say once how to type it here.
tutor_ensure_on_path() {
  local bin="$HOME/.local/bin" here="$ROOT/bin/tutor"
  # (bin/tutor's quick path looks for this file by this name too)
  local told="${XDG_STATE_HOME:-$HOME/.local/state}/netns-tutor/.told-tutor-not-on-path"
  command -v tutor >/dev/null 2>&1 && return 0
  case ":$PATH:" in
    *":$bin:"*|*":$bin/:"*)
      if [ ! -e "$bin/tutor" ] && [ ! -L "$bin/tutor" ] && mkdir -p "$bin" && ln -s "$here" "$bin/tutor"; then
        echo "netns-tutor: linked $bin/tutor -> $here, so \`tutor\` works in any folder from now on (rm $bin/tutor undoes it)" >&2
        return 0
      fi ;;
  esac
  [ -e "$told" ] && return 0
  echo "netns-tutor: \`tutor\` is not on your PATH: where the course says \`tutor …\`, type $here …" \
       "(or put $bin on your PATH and run bin/tutor again: it links itself there)" >&2
  mkdir -p "${told%/*}" 2>/dev/null && : > "$told" 2>/dev/null || true
}
