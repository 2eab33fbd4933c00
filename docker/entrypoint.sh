#!/bin/sh
# Entrypoint of kfault's CI image.
#
#   docker run --rm -v "$PWD:/src" [--device /dev/kvm] kfault <kfault command> [options]
#
# - A kfault command (setup, kernel, sweep, compare, report, harnesses, doctor, or an option such
#   as --help) runs kfault; its exit code is the container's. Anything else runs as it is
#   (`docker run ... kfault bash`, `docker run -w /opt/kfault ... kfault npm test`).
# - When /src holds a kernel tree (a Makefile and a Kconfig), `setup`, `kernel build` and `sweep`
#   get `--tree /src`: the mounted tree is built (in the container's cache, the tree is not written
#   to) and booted instead of the default kernel. Not when the command already names its kernel
#   (--tree, --image or --patches), and not with KFAULT_TREE=off. KFAULT_TREE=PATH passes that
#   tree instead (always; kfault says so if it is not one). `compare` names its kernels itself:
#   --a stock --b tree:/src.
# - KVM is used when /dev/kvm was passed (--device /dev/kvm) and a guest really runs on it, TCG
#   otherwise: kfault decides that itself (--accel auto).
set -eu

kfault=/opt/kfault/bin/kfault.js

case "${1:-}" in
  setup | kernel | sweep | compare | report | harnesses | doctor | -*) ;;
  '') exec node "$kfault" --help ;;
  *) exec "$@" ;;
esac

case "${KFAULT_TREE:-}" in
  off) tree= ;;
  '') if [ -f /src/Makefile ] && [ -f /src/Kconfig ]; then tree=/src; else tree=; fi ;;
  *) tree=$KFAULT_TREE ;;
esac
case "$1" in
  setup | kernel | sweep)
    if [ -n "$tree" ]; then
      for arg in "$@"; do
        case "$arg" in
          --tree | --tree=* | --image | --image=* | --patches | --patches=*) exec node "$kfault" "$@" ;;
        esac
      done
      command=$1
      shift
      exec node "$kfault" "$command" --tree "$tree" "$@"
    fi
    ;;
esac
exec node "$kfault" "$@"
