import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applySeries, readSeries } from '../../src/kernel/patches.js';
import { cacheKey } from '../../src/kernel/build.js';

function tree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kfault-patch-'));
  mkdirSync(join(dir, 'src/mm'), { recursive: true });
  writeFileSync(join(dir, 'src/mm/kmemleak.c'), 'one\ntwo\nthree\n');
  return dir;
}

const good = `--- a/mm/kmemleak.c\n+++ b/mm/kmemleak.c\n@@ -1,3 +1,3 @@\n one\n-two\n+TWO\n three\n`;
const bad = `--- a/mm/kmemleak.c\n+++ b/mm/kmemleak.c\n@@ -1,3 +1,3 @@\n one\n-zwei\n+TWO\n three\n`;

describe('patch series', () => {
  it('reads the series in order, skipping comments', () => {
    const dir = tree();
    writeFileSync(join(dir, 'series'), '# kfault\n0001-good.patch\n\n');
    writeFileSync(join(dir, '0001-good.patch'), good);
    expect(readSeries(dir).map((p) => p.name)).toEqual(['0001-good.patch']);
    applySeries(join(dir, 'src'), readSeries(dir));
    expect(readFileSync(join(dir, 'src/mm/kmemleak.c'), 'utf8')).toBe('one\nTWO\nthree\n');
  });

  it('a series naming a missing patch says which', () => {
    const dir = tree();
    writeFileSync(join(dir, 'series'), 'nope.patch\n');
    expect(() => readSeries(dir)).toThrow(`${join(dir, 'series')}: names nope.patch, but ${join(dir, 'nope.patch')} does not exist`);
  });

  it('a patch that does not apply names the file, the hunk and the reason', () => {
    const dir = tree();
    writeFileSync(join(dir, 'series'), '0001-bad.patch\n');
    writeFileSync(join(dir, '0001-bad.patch'), bad);
    let message = '';
    try {
      applySeries(join(dir, 'src'), readSeries(dir));
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(`patch ${join(dir, '0001-bad.patch')} does not apply`);
    expect(message).toContain('Hunk #1 FAILED at 1.');
    expect(message).toContain('mm/kmemleak.c');
  });

  it('the kernel cache key changes with the patches and the fragments', () => {
    const recipe = { source: 'linux-source-6.12', version: '6.12.117-1', fragments: [{ path: 'a', text: 'CONFIG_A=y\n' }], patches: [] };
    const k = cacheKey(recipe);
    expect(cacheKey({ ...recipe })).toBe(k);
    expect(cacheKey({ ...recipe, patches: [{ name: 'p', path: '/p', text: good }] })).not.toBe(k);
    expect(cacheKey({ ...recipe, fragments: [{ path: 'a', text: 'CONFIG_A=n\n' }] })).not.toBe(k);
    expect(cacheKey({ ...recipe, version: '6.12.118-1' })).not.toBe(k);
  });
});
