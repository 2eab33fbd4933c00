// A series on a source kfault has built starts from a copy of that kernel's build tree and
// rebuilds only what the series changed (src/kernel/trees.ts): bench/one-patch (one line of
// mm/kmemleak.c's init message) on stock, through `kfault kernel build` as a user runs it, then
// booted: the guest's kernel log carries the changed line, so make did rebuild what changed.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { cacheEntryOf } from '../../src/kernel/build.js';
import { buildLockPath, readTreeState, treeDir } from '../../src/kernel/trees.js';

const bin = new URL('../../bin/kfault.js', import.meta.url).pathname;
const onePatch = new URL('../../bench/one-patch', import.meta.url).pathname;
const kfault = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 1_500_000 });

describe('a one-patch series on the built stock source', () => {
  it('is built on a copy of the stock tree, compiles only what changed, and the booted kernel has the change', () => {
    const stock = cacheEntryOf(parseConfig({}));
    expect(kfault('kernel', 'build').status).toBe(0); // the stock kernel and its tree (cached)
    expect(readTreeState(treeDir(stock.key))?.built).toBe(true);

    const series = cacheEntryOf(parseConfig({ kernel: { patches: onePatch } }));
    // measured from the same state every time: this kernel not cached, its tree not there
    for (const p of [series.entry, treeDir(series.key), buildLockPath(series.key)]) rmSync(p, { recursive: true, force: true });
    const r = kfault('kernel', 'build', '--patches', onePatch);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`building on a copy of ${treeDir(stock.key)}: 1 source file differ (mm/kmemleak.c)`);
    const meta = JSON.parse(readFileSync(join(series.entry, 'meta.json'), 'utf8')) as { from: string; objects: number };
    expect(meta.from).toBe('seed');
    // kmemleak.o and what links it, not the 1,800 objects of a full build
    expect(meta.objects).toBeGreaterThan(0);
    expect(meta.objects).toBeLessThan(60);
    // the stock tree's own mm/kmemleak.c was not touched (the copy's is a file of its own)
    expect(readFileSync(join(treeDir(stock.key), 'mm/kmemleak.c'), 'utf8')).toContain('(mem pool available: %d)');

    const shell = kfault('shell', '--patches', onePatch, '--', 'sh', '-c', 'dmesg | grep "Kernel memory leak detector initialized"');
    expect(shell.status, shell.stderr).toBe(0);
    expect(shell.stdout).toMatch(/Kernel memory leak detector initialized \(mem pool free: \d+\)/);
  }, 1_800_000);
});
