// A patch directory without a series file (a typo) is an error at every entry point, before any
// build starts, never the stock kernel labelled "patched". XDG_CACHE_HOME points below a file, so
// a build could not even create its cache directory: none can start from these tests.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { boot, ConfigError, ensureKernel, parseConfig } from '../../src/index.js';

const bin = new URL('../../bin/kfault.js', import.meta.url).pathname;
const noCache = '/dev/null/kfault-no-cache';
const empty = mkdtempSync(join(tmpdir(), 'kfault-no-series-'));
const missing = join(empty, 'typo');
const problemOf = (dir: string) => `${dir} has no series file; expected a quilt-style patch directory (series naming one patch per line)`;

describe('a patch directory without a series file', () => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = noCache;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
  });

  it.each([['an empty directory', empty], ['a directory that does not exist', missing]])('ensureKernel refuses %s (ConfigError, kernel.patches)', async (_, dir) => {
    const e = await ensureKernel(parseConfig({ kernel: { patches: dir } })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).problems).toEqual([{ path: 'kernel.patches', message: problemOf(dir) }]);
  });

  it('boot() refuses it too (createKernelTest boots through the same ensureKernel)', async () => {
    const e = await boot(parseConfig({ kernel: { patches: missing } })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).message).toContain(problemOf(missing));
  });

  it('kfault compare --b patches:DIR refuses it, exit 2, before the stock side is swept', () => {
    const r = spawnSync(process.execPath, [bin, 'compare', 'pipe2', '--b', `patches:${missing}`], { encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: noCache }, timeout: 60_000 });
    expect(r.stderr).toBe(`invalid kfault configuration:\n  --b: ${problemOf(missing)}\n`);
    expect(r.status).toBe(2);
  });

  it('kfault kernel build --patches DIR refuses it, exit 2', () => {
    const r = spawnSync(process.execPath, [bin, 'kernel', 'build', '--patches', empty], { encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: noCache }, timeout: 60_000 });
    expect(r.stderr).toBe(`invalid kfault configuration:\n  kernel.patches: ${problemOf(empty)}\n`);
    expect(r.status).toBe(2);
  });
});
