// One check of a kernel tree and an image (treeProblem and kernelPathProblems in
// src/kernel/check-paths.ts), run by ensureKernel itself: every entry point gets its errors,
// ConfigErrors at kernel.tree / kernel.image. XDG_CACHE_HOME points below a file, so no build
// could start from these tests even if a check let one through.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, ensureKernel, parseConfig } from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'kfault-tree-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'a-file');
writeFileSync(file, 'not a tree\n');
// what the first check missed: a Makefile and a Kconfig, but no arch/x86/Kconfig
const half = join(dir, 'half');
mkdirSync(half);
writeFileSync(join(half, 'Makefile'), '');
writeFileSync(join(half, 'Kconfig'), '');

async function refusal(kernel: object) {
  const e = await ensureKernel(parseConfig({ kernel })).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(ConfigError);
  return (e as ConfigError).problems;
}

describe('ensureKernel checks the tree and the image once, with one set of messages', () => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = '/dev/null/kfault-no-cache';
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
  });

  it('a tree that does not exist, a file, one that lacks arch/x86/Kconfig', async () => {
    expect(await refusal({ tree: join(dir, 'nope') })).toEqual([{ path: 'kernel.tree', message: `${join(dir, 'nope')} does not exist; expected a Linux source tree` }]);
    expect(await refusal({ tree: file })).toEqual([{ path: 'kernel.tree', message: `${file} is a file; expected a Linux source tree (a directory)` }]);
    expect(await refusal({ tree: half })).toEqual([{ path: 'kernel.tree', message: `${half} is not a Linux source tree (no arch/x86/Kconfig)` }]);
  });

  it('an image that does not exist, or is not a kernel', async () => {
    expect(await refusal({ image: join(dir, 'nope') })).toEqual([{ path: 'kernel.image', message: `${join(dir, 'nope')} does not exist; expected a bzImage or an ELF vmlinux` }]);
    expect(await refusal({ image: file })).toEqual([{ path: 'kernel.image', message: `${file} is neither a bzImage nor an ELF vmlinux` }]);
  });
});
