#!/bin/sh
# Run once in the image build, after kfault has built its kernels: keep what a run needs, drop
# the rest (about 2 GB per kernel) so that the layer stays small.
#
# Kept: the stock kernel's build tree, whole (trees/<key>/: source and out/, about 2 GB), which
# a new kernel of the stock source starts from. Kept per other kernel:
# - the cache entry, $XDG_CACHE_HOME/kfault/kernels/<key>/ (bzImage, System.map, config,
#   kmemleak's text range): what `kfault sweep` boots, found by the same cache key at run time;
# - in place of the build dir $XDG_CACHE_HOME/kfault/build/<key>/ (objects, ~235 MB; a link to
#   trees/<key>/out for kernels built in a tree) and the source it was built from (~1.7 GB,
#   trees/<key>/ or, from older kfault versions, src/): an external-module build tree made by the
#   kernel's own scripts/package/install-extmod-build (~65 MB, what Debian's linux-headers packages
#   hold), after `make modules` has written Module.symvers, which kfault would otherwise make
#   before its first out-of-tree module build. `make -C <that dir> M=<module> modules` then works
#   as it does on the full build dir, so `kfault sweep --module DIR` builds modules at run time.
# - each source's scripts/ (checkpatch.pl, which the test suite runs on kfault's patch).
# Dropped: the rest of the sources. kfault unpacks a source again whenever it has to build another
# kernel (a tree without its out/ is not one kfault starts a new build from). (ccache's cache is a BuildKit cache mount in the Dockerfile: not in the layer, and kept.)
set -eu
cache=${XDG_CACHE_HOME:?}/kfault
cc=gcc
if ccache --version >/dev/null 2>&1; then cc='ccache gcc'; fi # as kfault built them

for out in "$cache"/build/*; do
  [ -d "$out" ] || continue
  src=$(readlink -f "$out/source")
  echo "slim-kernel-cache: $out (source $src)"
  [ -f "$out/Module.symvers" ] || make -s -C "$out" ARCH=x86_64 CC="$cc" modules
  # The stock kernel's whole tree stays: a series or a fragment on the stock source then starts
  # from a copy of it and rebuilds only what changed (src/kernel/trees.ts), in a container too.
  if grep -qs '"patches":\[\]' "$src/.kfault-tree.json"; then echo "slim-kernel-cache: keeping the stock tree $src"; continue; fi
  (cd "$out" && srctree="$src" SRCARCH=x86 CC=gcc HOSTCC=gcc MAKE=make sh "$src/scripts/package/install-extmod-build" "$out.extmod")
  rm -rf "$out"
  mv "$out.extmod" "$out"
done

for src in "$cache"/src/*; do
  [ -d "$src" ] || continue
  case "$src" in
    *_stock) find "$src" -mindepth 1 -maxdepth 1 ! -name scripts -exec rm -rf {} + ;;
    *) rm -rf "$src" ;;
  esac
done
for tree in "$cache"/trees/*; do
  [ -d "$tree" ] || continue
  grep -qs '"patches":\[\]' "$tree/.kfault-tree.json" && continue
  find "$tree" -mindepth 1 -maxdepth 1 ! -name scripts ! -name .kfault-tree.json -exec rm -rf {} +
done
for d in "$cache"/kernels/* "$cache"/build/* "$cache"/src/* "$cache"/trees/*; do
  [ -e "$d" ] && du -sh "$d"
done
true
