#!/usr/bin/env bash
# Build kfault's CI image from this repository's HEAD and use it for real: `kfault sweep pipe2`,
# the entrypoint's tree and exit-code rules, and the whole test suite, in containers, under TCG.
#
# What it needs, it gets (as root, on Debian): docker.io and debootstrap from apt, a Docker engine
# (`dockerd --iptables=false --bridge=none`, started here when none answers and stopped again at
# the end), and a debian:trixie base image made with debootstrap when there is none (no registry
# is needed). Where no engine can be had at all (not root and none running, no apt-get, or dockerd
# cannot start here), it says so plainly and exits 0; KFAULT_DOCKER_REQUIRED=1 makes that a failure.
#
# Environment: KFAULT_IMAGE (tag to build, default kfault), KFAULT_DOCKER_REQUIRED=1,
# KFAULT_DOCKER_TREE=PATH (also build and sweep the kernel tree at PATH mounted on /src; slow).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
image=${KFAULT_IMAGE:-kfault}
base=debian:trixie
suite=${base#debian:}

say() { printf 'docker/test.sh: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }
no_engine() {
  if [ "${KFAULT_DOCKER_REQUIRED:-}" = 1 ]; then die "no Docker engine can be had here: $*"; fi
  say "SKIPPED: no Docker engine can be had here: $*"
  say "the image was not built and nothing ran in a container (set KFAULT_DOCKER_REQUIRED=1 to make this a failure)"
  exit 0
}
now() { date +%s; }
took() { local s=$(( $(now) - $1 )); printf '%d min %02d s' $((s / 60)) $((s % 60)); }
is_root() { [ "$(id -u)" = 0 ]; }

tmp=$(mktemp -d /var/tmp/kfault-docker-test.XXXXXX)
started_dockerd=
cleanup() {
  local rc=$?
  if [ -n "$started_dockerd" ] && kill -0 "$started_dockerd" 2>/dev/null; then
    say "stopping the dockerd this script started (pid $started_dockerd)"
    kill -TERM "$started_dockerd" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$started_dockerd" 2>/dev/null && kill -KILL "$started_dockerd" 2>/dev/null
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

apt_updated=
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "$apt_updated" ]; then apt-get update -q >"$tmp/apt.log" 2>&1 || { tail -20 "$tmp/apt.log" >&2; die "apt-get update failed"; }; apt_updated=1; fi
  say "installing $*"
  apt-get install -y -q --no-install-recommends "$@" >>"$tmp/apt.log" 2>&1 || { tail -20 "$tmp/apt.log" >&2; die "apt-get install $* failed"; }
}

# --- 1. a Docker engine ----------------------------------------------------------------------
engine_up() { docker info >/dev/null 2>&1; }
t_all=$(now)
if ! command -v docker >/dev/null || ! engine_up; then
  if ! command -v dockerd >/dev/null; then
    is_root || no_engine "no engine answers, and installing one needs root"
    command -v apt-get >/dev/null || no_engine "no engine answers, and there is no apt-get to install docker.io with"
    apt_install docker.io
  fi
  if ! engine_up; then
    is_root || no_engine "no engine answers, and starting dockerd needs root"
    # a dockerd that died leaves its pid file behind, and a new one then refuses to start
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then rm -f /var/run/docker.pid; fi
    say "starting dockerd --iptables=false --bridge=none (log: $tmp/dockerd.log)"
    dockerd --iptables=false --bridge=none >"$tmp/dockerd.log" 2>&1 &
    started_dockerd=$!
    for _ in $(seq 120); do engine_up && break; kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.5; done
    if ! engine_up; then
      tail -20 "$tmp/dockerd.log" >&2
      no_engine "dockerd did not start (its log's last lines are above)"
    fi
  fi
fi
say "engine: $(docker version --format 'server {{.Server.Version}}, client {{.Client.Version}}' 2>/dev/null)"

# --- 2. the base image --------------------------------------------------------------------------
# The Debian mirror this machine uses (deb822 sources first, then one-line ones).
mirror_of() { # $1: "main" or "security"
  local f uri='' suites=''
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk -v want="$1" '
      /^[[:space:]]*$/ { if (u != "" && (want == "security") == (s ~ /-security/)) { print u; exit } u = ""; s = ""; next }
      /^URIs:/ { u = $2 } /^Suites:/ { s = $0 }
      END { if (u != "" && (want == "security") == (s ~ /-security/)) print u }' "$f" | head -1)
    case $uri in http*) echo "${uri%/}"; return ;; esac
  done
  uri=$(grep -hE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk -v want="$1" '{ for (i = 2; i <= NF; i++) if ($i ~ /^http/) { if ((want == "security") == ($(i+1) ~ /-security/)) { print $i; exit } break } }')
  case $uri in
    http*) echo "${uri%/}" ;;
    *) [ "$1" = security ] && echo http://deb.debian.org/debian-security || echo http://deb.debian.org/debian ;;
  esac
}

if docker image inspect "$base" >/dev/null 2>&1; then
  say "base image $base: present"
else
  t=$(now)
  is_root || die "no $base image, and making one with debootstrap needs root"
  command -v debootstrap >/dev/null || apt_install debootstrap
  mirror=$(mirror_of main)
  security=$(mirror_of security)
  say "making $base with debootstrap --variant=minbase $suite from $mirror"
  rootfs="$tmp/rootfs"
  debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -20 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
  # apt sources as Debian's own image has them: the release, its updates and security updates
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" --numeric-owner -c . | docker import --change 'CMD ["bash"]' - "$base" >/dev/null
  rm -rf "$rootfs"
  say "base image $base made in $(took "$t")"
fi

# --- 3. the image, from HEAD ----------------------------------------------------------------------
# Built from the commit, not the working tree: what CI tests is what a fresh clone has.
head=$(git -C "$repo" rev-parse --short HEAD)
git -C "$repo" cat-file -e HEAD:docker/Dockerfile 2>/dev/null || die "HEAD ($head) has no docker/Dockerfile: commit it first"
if [ -n "$(git -C "$repo" status --porcelain)" ]; then say "note: the working tree has uncommitted changes; they are not in the image (built from HEAD $head)"; fi
mkdir "$tmp/context"
git -C "$repo" archive --format=tar HEAD | tar -x -C "$tmp/context"
# Where a TLS-intercepting proxy stands between this machine and the npm registry, the host trusts
# its CA through a locally added certificate; the build's npm stage needs the same (it is not kept
# in the image: see docker/ca-certificates/README.md).
cas=$(find /usr/local/share/ca-certificates -name '*.crt' -type f 2>/dev/null | wc -l)
if [ "$cas" -gt 0 ]; then
  find /usr/local/share/ca-certificates -name '*.crt' -type f -exec cp {} "$tmp/context/docker/ca-certificates/" \;
  say "the npm build stage trusts this host's $cas locally added CA certificate(s) (/usr/local/share/ca-certificates)"
fi
# The Dockerfile needs BuildKit (its kernel step keeps ccache's cache in a BuildKit cache mount, so
# that a commit that leaves the kernels' inputs alone rebuilds them from ccache in minutes). Clients
# before Docker 23 have BuildKit built in (DOCKER_BUILDKIT=1); later ones need the buildx plugin.
# Debian 12's docker.io is 20.10; where a newer client without buildx comes first on PATH (as on
# this project's CI machines), the docker.io package's own /usr/bin/docker is used for the build.
buildkit_client() {
  local c v
  for c in docker /usr/bin/docker; do
    command -v "$c" >/dev/null || continue
    if "$c" buildx version >/dev/null 2>&1; then echo "$c"; return 0; fi
    v=$("$c" version --format '{{.Client.Version}}' 2>/dev/null) || true
    v=${v%%.*}
    case $v in '' | *[!0-9]*) continue ;; esac
    if [ "$v" -lt 23 ]; then echo "$c"; return 0; fi
  done
  return 1
}
if ! builder=$(buildkit_client); then
  if is_root && command -v apt-get >/dev/null && apt-cache show docker-buildx >/dev/null 2>&1; then apt_install docker-buildx; fi
  builder=$(buildkit_client) || die "no Docker client here can build with BuildKit (docker buildx, or a client before Docker 23 with DOCKER_BUILDKIT=1); the Dockerfile needs it"
fi
say "building $image from HEAD $head (DOCKER_BUILDKIT=1 $builder build --network=host -f docker/Dockerfile)"
t=$(now)
DOCKER_BUILDKIT=1 "$builder" build --progress=plain --network=host -f "$tmp/context/docker/Dockerfile" -t "$image" "$tmp/context" ||
  die "docker build failed"
t_build=$(took "$t")
say "image built in $t_build"

# Containers need no network at run time: --network=none proves it.
run() { docker run --rm --network=none "$@"; }

# --- 4. the entrypoint: exit codes, tree detection -------------------------------------------------
rc=0; run "$image" sweep no-such-harness >/dev/null 2>"$tmp/err" || rc=$?
[ "$rc" = 2 ] || { cat "$tmp/err" >&2; die "kfault's exit code 2 (unknown harness) came out of the container as $rc"; }
grep -q "unknown harness 'no-such-harness'" "$tmp/err" || { cat "$tmp/err" >&2; die "no 'unknown harness' message"; }
mkdir -p "$tmp/not-a-tree" && touch "$tmp/not-a-tree/Makefile" "$tmp/not-a-tree/Kconfig"
rc=0; run -v "$tmp/not-a-tree:/src:ro" "$image" kernel build >/dev/null 2>"$tmp/err" || rc=$?
{ [ "$rc" = 2 ] && grep -q 'kernel.tree: /src is not a Linux source tree' "$tmp/err"; } ||
  { cat "$tmp/err" >&2; die "a Makefile and Kconfig on /src did not make the entrypoint pass --tree /src (exit $rc)"; }
rc=0; run -v "$tmp/not-a-tree:/src:ro" -e KFAULT_TREE=off "$image" harnesses >/dev/null 2>"$tmp/err" || rc=$?
[ "$rc" = 0 ] || { cat "$tmp/err" >&2; die "kfault harnesses failed in the container (exit $rc)"; }
say "entrypoint: kfault's exit codes come out unchanged; /src with a Makefile and Kconfig is passed as --tree"

# --- 5. a sweep, under TCG --------------------------------------------------------------------------
say "docker run --rm $image sweep pipe2 (no /dev/kvm: TCG)"
t=$(now)
rc=0; run "$image" sweep pipe2 >"$tmp/sweep.out" 2>"$tmp/sweep.err" || rc=$?
t_sweep=$(took "$t")
cat "$tmp/sweep.err" "$tmp/sweep.out" >&2
[ "$rc" = 0 ] || die "kfault sweep pipe2 exited $rc in the container"
grep -q 'guest up (.*, tcg)' "$tmp/sweep.err" || die "the guest did not report running under TCG"
grep -qE '^pipe2: [0-9]+ failure points: [1-9][0-9]* failed' "$tmp/sweep.out" || die "no pipe2 totals line with failures in the sweep's output"
say "sweep pipe2 in the container: $t_sweep"

# --- 6. optional: a kernel tree mounted on /src ----------------------------------------------------
t_tree=
if [ -n "${KFAULT_DOCKER_TREE:-}" ]; then
  tree=$(cd "$KFAULT_DOCKER_TREE" && pwd)
  # not read-only: kfault's build runs the tree's merge_config.sh, which makes (and removes) a
  # temporary file in the tree; it also writes its console logs to /src/.kfault
  say "docker run -v $tree:/src $image sweep pipe2 (the tree is built first)"
  t=$(now)
  rc=0; run -v "$tree:/src" "$image" sweep pipe2 >"$tmp/tree.out" 2>"$tmp/tree.err" || rc=$?
  t_tree=$(took "$t")
  cat "$tmp/tree.err" "$tmp/tree.out" >&2
  [ "$rc" = 0 ] || die "kfault sweep pipe2 on the mounted tree exited $rc"
  grep -q "kernel build (/src)" "$tmp/tree.err" || die "the mounted tree was not built"
  say "tree build and sweep in the container: $t_tree"
fi

# --- 7. the test suite ---------------------------------------------------------------------------------
say "docker run --rm -w /opt/kfault $image npm test"
t=$(now)
rc=0; run -e CI=true -w /opt/kfault "$image" npm test || rc=$?
t_test=$(took "$t")
[ "$rc" = 0 ] || die "npm test exited $rc in the container"

say "PASSED (HEAD $head): image build $t_build; sweep pipe2 $t_sweep;${t_tree:+ tree build and sweep $t_tree;} npm test $t_test; all $(took "$t_all")"
