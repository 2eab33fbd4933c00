// The files a config names, checked before anything is built or booted: each problem with its
// config path, what is there and what was expected.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config, ConfigProblem } from '../config.js';
import { imageKind } from './build.js';

const TREE_FILES = ['Makefile', 'Kconfig', 'arch/x86/Kconfig', 'scripts/kconfig/merge_config.sh'];

export function treeProblem(path: string): string | null {
  const tree = resolve(path);
  if (!existsSync(tree)) return `${tree} does not exist; expected a Linux source tree`;
  if (!statSync(tree).isDirectory()) return `${tree} is a file; expected a Linux source tree (a directory)`;
  const missing = TREE_FILES.find((f) => !existsSync(join(tree, f)));
  return missing ? `${tree} is not a Linux source tree (no ${missing})` : null;
}

/** The kernel part: ensureKernel checks it too, so every entry point (the CLI, boot(),
 * createKernelTest) refuses a missing tree, image, fragment or patch series before building. */
export function kernelPathProblems(k: Config['kernel']): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  if (k.tree) {
    const p = treeProblem(k.tree);
    if (p) out.push({ path: 'kernel.tree', message: p });
  }
  if (k.image) {
    const image = resolve(k.image);
    if (!existsSync(image) || !statSync(image).isFile()) out.push({ path: 'kernel.image', message: `${image} does not exist; expected a bzImage or an ELF vmlinux` });
    else if (!imageKind(image)) out.push({ path: 'kernel.image', message: `${image} is neither a bzImage nor an ELF vmlinux` });
  }
  k.fragments.forEach((f, i) => {
    if (!existsSync(resolve(f))) out.push({ path: `kernel.fragments.${i}`, message: `${resolve(f)} does not exist; expected a Kconfig fragment (CONFIG_X=y lines)` });
  });
  if (k.patches && !existsSync(join(resolve(k.patches), 'series'))) {
    out.push({ path: 'kernel.patches', message: `${resolve(k.patches)} has no series file; expected a quilt-style patch directory (series naming one patch per line)` });
  }
  return out;
}

export function checkConfigPaths(c: Config): ConfigProblem[] {
  const out = kernelPathProblems(c.kernel);
  c.modules.forEach((m, i) => {
    if (!existsSync(resolve(m.path))) out.push({ path: `modules.${i}.path`, message: `${resolve(m.path)} does not exist; expected a kbuild directory or a .ko` });
  });
  return out;
}
