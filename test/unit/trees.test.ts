// Persistent build trees (src/kernel/trees.ts) on small real trees, with the real patch and cp.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildLockPath, closestSeed, copyTree, filesOfPatch, fragmentsHash, prepareTree, pruneTrees, readTreeState, switchSeries, treeDir, writeTreeState } from '../../src/kernel/trees.js';
import { withBuildLock } from '../../src/kernel/build-lock.js';
import type { Patch } from '../../src/kernel/patches.js';

const patch = (name: string, text: string): Patch => ({ name, path: `/nonexistent/${name}`, text });
const changeA = patch('a.patch', '--- a/a.c\n+++ b/a.c\n@@ -1,2 +1,2 @@\n int a;\n-int x = 1;\n+int x = 2;\n');
const changeB = patch('b.patch', '--- a/include/b.h\n+++ b/include/b.h\n@@ -1 +1 @@\n-#define B 1\n+#define B 2\n');
const newFile = patch('new.patch', '--- /dev/null\n+++ b/new.c\n@@ -0,0 +1 @@\n+int n;\n');

let dir: string;
let oldCache: string | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kfault-trees-'));
  oldCache = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = join(dir, 'cache');
});
afterEach(() => {
  if (oldCache === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = oldCache;
  rmSync(dir, { recursive: true, force: true });
});

function pristine(at: string): void {
  mkdirSync(join(at, 'include'), { recursive: true });
  mkdirSync(join(at, 'out'), { recursive: true });
  writeFileSync(join(at, 'a.c'), 'int a;\nint x = 1;\n');
  writeFileSync(join(at, 'include/b.h'), '#define B 1\n');
  writeFileSync(join(at, 'Makefile'), 'all:\n');
  writeFileSync(join(at, 'out/Makefile'), 'include ../Makefile\n');
  writeFileSync(join(at, 'out/a.o'), 'object');
  writeFileSync(join(at, 'out/Module.symvers'), 'symbols of the seed');
  const old = new Date('2024-01-01T00:00:00Z');
  for (const f of ['a.c', 'include/b.h', 'Makefile', 'out/a.o']) utimesSync(join(at, f), old, old);
}

describe('filesOfPatch', () => {
  it('names the files of each hunk header, without a/ b/, and not /dev/null', () => {
    expect(filesOfPatch(changeA.text + changeB.text + newFile.text)).toEqual(['a.c', 'include/b.h', 'new.c']);
  });
});

describe('switchSeries', () => {
  it('changes only the files whose content differs, by a new inode, and keeps the others as they were', () => {
    const tree = join(dir, 't');
    pristine(tree);
    switchSeries(tree, [], [changeA, changeB]);
    const before = { a: statSync(join(tree, 'a.c')), b: statSync(join(tree, 'include/b.h')) };
    // A, B applied -> B, new: a.c goes back to pristine, b.h stays, new.c appears
    const changed = switchSeries(tree, [changeA, changeB], [changeB, newFile]);
    expect(changed.sort()).toEqual(['a.c', 'new.c']);
    expect(readFileSync(join(tree, 'a.c'), 'utf8')).toBe('int a;\nint x = 1;\n');
    expect(readFileSync(join(tree, 'new.c'), 'utf8')).toBe('int n;\n');
    const b = statSync(join(tree, 'include/b.h'));
    expect([b.ino, b.mtimeMs]).toEqual([before.b.ino, before.b.mtimeMs]);
    expect(statSync(join(tree, 'a.c')).ino).not.toBe(before.a.ino);
    // and back to none: new.c is removed
    expect(switchSeries(tree, [changeB, newFile], []).sort()).toEqual(['include/b.h', 'new.c']);
    expect(() => statSync(join(tree, 'new.c'))).toThrow();
  });

  it('names the patch that does not apply, and leaves the tree as it was', () => {
    const tree = join(dir, 't');
    pristine(tree);
    const bad = patch('bad.patch', '--- a/a.c\n+++ b/a.c\n@@ -1,2 +1,2 @@\n int a;\n-int y = 7;\n+int y = 8;\n');
    expect(() => switchSeries(tree, [], [bad])).toThrow(/bad\.patch does not apply/);
    expect(readFileSync(join(tree, 'a.c'), 'utf8')).toBe('int a;\nint x = 1;\n');
  });
});

describe('copyTree', () => {
  it('hard-links the source, copies out/ with its times, and drops the seed kernel Module.symvers', () => {
    const seed = join(dir, 'seed');
    pristine(seed);
    const copy = join(dir, 'copy');
    copyTree(seed, copy);
    expect(statSync(join(copy, 'a.c')).ino).toBe(statSync(join(seed, 'a.c')).ino);
    expect(statSync(join(copy, 'out/a.o')).ino).not.toBe(statSync(join(seed, 'out/a.o')).ino);
    expect(statSync(join(copy, 'out/a.o')).mtimeMs).toBe(statSync(join(seed, 'out/a.o')).mtimeMs);
    expect(() => statSync(join(copy, 'out/Module.symvers'))).toThrow();
    // a switched file in the copy is a new file: the seed keeps its content
    switchSeries(copy, [], [changeA]);
    expect(readFileSync(join(seed, 'a.c'), 'utf8')).toBe('int a;\nint x = 1;\n');
  });
});

describe('relocateTools', () => {
  it("puts the copy's own path into objtool's .cmd files, which name files by absolute path, and leaves kbuild's alone", () => {
    const seed = join(dir, 'seed');
    pristine(seed);
    mkdirSync(join(seed, 'out/tools/objtool'), { recursive: true });
    const cmd = (at: string) => `cmd_${at}/out/tools/objtool/check.o := gcc -I${at}/tools/include -c -o ${at}/out/tools/objtool/check.o check.c\n`;
    writeFileSync(join(seed, 'out/tools/objtool/.check.o.cmd'), cmd(seed));
    writeFileSync(join(seed, 'out/.a.o.cmd'), 'cmd_a.o := gcc -I../include -c -o a.o ../a.c\n');
    const copy = join(dir, 'copy.tmp-1');
    const final = join(dir, 'copy');
    copyTree(seed, copy, final);
    expect(readFileSync(join(copy, 'out/tools/objtool/.check.o.cmd'), 'utf8')).toBe(cmd(final));
    expect(readFileSync(join(copy, 'out/.a.o.cmd'), 'utf8')).toBe('cmd_a.o := gcc -I../include -c -o a.o ../a.c\n');
    expect(readFileSync(join(seed, 'out/tools/objtool/.check.o.cmd'), 'utf8')).toBe(cmd(seed));
  });
});

describe('closestSeed and prepareTree', () => {
  const want = (patches: Patch[], fragments = fragmentsHash([{ text: 'CONFIG_X=y\n' }])) => ({ source: 'linux-source-6.12', version: '1', fragments, patches });
  function builtTree(key: string, patches: Patch[], fragments?: string, builtAt = 1): string {
    const tree = treeDir(key);
    pristine(tree);
    switchSeries(tree, [], patches);
    writeTreeState(tree, { ...want(patches, fragments), patches: patches.map((p) => ({ name: p.name, text: p.text })), built: true, builtAt });
    return tree;
  }

  it('prefers the same config, then the fewest differing patches, then the newest', () => {
    builtTree('other-config', [changeA], fragmentsHash([{ text: 'CONFIG_Y=y\n' }]), 9);
    builtTree('two-off', [changeB, newFile], undefined, 5);
    builtTree('one-off-old', [changeA, changeB], undefined, 1);
    builtTree('one-off-new', [changeA, newFile], undefined, 2);
    expect(closestSeed(want([changeA]))?.tree).toBe(treeDir('one-off-new'));
    expect(closestSeed({ ...want([changeA]), version: '2' })).toBeNull();
  });

  it('skips a tree whose build did not finish, and one without its out/', () => {
    const t = builtTree('unfinished', []);
    writeTreeState(t, { ...readTreeState(t)!, built: false });
    const slim = builtTree('slimmed', []);
    rmSync(join(slim, 'out'), { recursive: true });
    expect(closestSeed(want([]))).toBeNull();
  });

  it('starts a new tree from the closest built one, with only the differing files changed', async () => {
    builtTree('stock', []);
    const r = await prepareTree('one-patch', { ...want([changeA]), tarball: '/nonexistent.tar.xz' });
    expect(r).toMatchObject({ from: 'seed', seed: treeDir('stock'), changed: ['a.c'] });
    expect(readFileSync(join(r.tree, 'a.c'), 'utf8')).toContain('int x = 2;');
    expect(readTreeState(r.tree)).toMatchObject({ built: false, patches: [{ name: 'a.patch' }] });
    // asked again before it was built: the same tree, as it was left
    expect((await prepareTree('one-patch', { ...want([changeA]), tarball: '/nonexistent.tar.xz' })).from).toBe('same');
  });

  it('prunes the oldest built trees of a source beyond the limit, but not one whose lock is held, nor a stock tree', async () => {
    builtTree('stock', [], undefined, 0);
    builtTree('stock-other-config', [], fragmentsHash([{ text: 'CONFIG_Y=y\n' }]), 0);
    for (let i = 1; i <= 5; i++) builtTree(`t${i}`, [changeA], undefined, i);
    const removed = await withBuildLock(buildLockPath('t1'), 'test', async () => pruneTrees('linux-source-6.12', '1', 2));
    expect(removed.sort()).toEqual(['t2', 't3']);
    for (const t of ['stock', 'stock-other-config', 't1', 't4', 't5']) expect(readTreeState(treeDir(t))?.built, t).toBe(true);
    expect(readTreeState(treeDir('t2'))).toBeNull();
  });
});
