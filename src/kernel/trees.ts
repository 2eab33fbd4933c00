// Persistent build trees: one per cache key, at trees/<key>/ (the source with its series applied)
// with the build dir inside it, trees/<key>/out/. kbuild then names the source `..` in every
// command, dependency file and generated Makefile, so a tree can be copied and built further where
// it lands. A new kernel of a source that kfault already built starts from a copy of the closest
// built tree: the source hard-linked (nothing writes to a source file in place: kbuild with O=
// writes only under out/, and kfault replaces a file by rename), out/ copied with its times. Only
// the files whose content the new series or config changes get a new time, so make rebuilds only
// what depends on them, as it does in a developer's own tree.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { cacheDir } from '../paths.js';
import { applySeries, type Patch } from './patches.js';
import { withBuildLock } from './build-lock.js';
import { loadBinding } from '../native.js';

export const OUT = 'out';
const STATE = '.kfault-tree.json';

const TreeState = z.object({
  source: z.string(),
  version: z.string(),
  /** sha256 of the fragments' texts, in order */
  fragments: z.string(),
  patches: z.array(z.object({ name: z.string(), text: z.string() })),
  /** set once a build in this tree has finished */
  built: z.boolean(),
  builtAt: z.number().optional(),
});
export type TreeState = z.infer<typeof TreeState>;

export function treeDir(key: string): string {
  return join(cacheDir(), 'trees', key);
}

export function fragmentsHash(fragments: Array<{ text: string }>): string {
  return createHash('sha256').update(JSON.stringify(fragments.map((f) => f.text))).digest('hex');
}

export function readTreeState(tree: string): TreeState | null {
  try {
    return TreeState.parse(JSON.parse(readFileSync(join(tree, STATE), 'utf8')));
  } catch {
    return null;
  }
}

export function writeTreeState(tree: string, state: TreeState): void {
  writeFileSync(join(tree, `${STATE}.tmp`), JSON.stringify(state) + '\n');
  renameSync(join(tree, `${STATE}.tmp`), join(tree, STATE));
}

/** Files a patch creates, changes or removes (its ---/+++ names, without the a/ b/ prefix). */
export function filesOfPatch(text: string): string[] {
  const files = new Set<string>();
  for (const m of text.matchAll(/^(?:---|\+\+\+) (\S+)/gm)) {
    const name = m[1]!;
    if (name === '/dev/null') continue;
    files.add(name.replace(/^[^/]+\//, ''));
  }
  return [...files];
}

/** Patches a series can be switched by file content only: no renames, copies or binary hunks. */
function switchable(patches: Array<{ text: string }>): boolean {
  return patches.every((p) => !/^(?:rename from|copy from|GIT binary patch)/m.test(p.text));
}

export interface Seed {
  tree: string;
  state: TreeState;
  /** patches in one series and not the other, by text */
  patchDistance: number;
  sameFragments: boolean;
}

/** The built tree of the same source a new tree is best copied from: same config first, then
 * the fewest patches that differ, then the newest. Null when there is none. */
export function closestSeed(want: { source: string; version: string; fragments: string; patches: Array<{ text: string }> }): Seed | null {
  const root = join(cacheDir(), 'trees');
  if (!existsSync(root)) return null;
  const seeds: Seed[] = [];
  for (const name of readdirSync(root)) {
    const tree = join(root, name);
    const state = readTreeState(tree);
    if (!state?.built || state.source !== want.source || state.version !== want.version) continue;
    if (!existsSync(join(tree, OUT, 'Makefile')) || !switchable(state.patches)) continue;
    const have = new Set(state.patches.map((p) => p.text));
    const wanted = new Set(want.patches.map((p) => p.text));
    const patchDistance = [...have].filter((t) => !wanted.has(t)).length + [...wanted].filter((t) => !have.has(t)).length;
    seeds.push({ tree, state, patchDistance, sameFragments: state.fragments === want.fragments });
  }
  seeds.sort((a, b) => Number(b.sameFragments) - Number(a.sameFragments) || a.patchDistance - b.patchDistance || (b.state.builtAt ?? 0) - (a.state.builtAt ?? 0));
  return seeds[0] ?? null;
}

function run(cmd: string, args: string[], what: string): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${what}: cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${what} failed (${cmd} exit ${r.status}):\n${(r.stdout + r.stderr).trim().slice(-2000)}`);
}

/** Copies a built tree to dest: the source as hard links, out/ as real files with their times.
 * Module.symvers goes: it lists the seed kernel's exports, and modules.ts makes it again. The
 * tree will live at finalPath (dest is a scratch name renamed there). */
export function copyTree(from: string, dest: string, finalPath = dest): void {
  mkdirSync(dest, { recursive: true });
  const entries = readdirSync(from).filter((e) => e !== OUT && e !== STATE && !e.startsWith(`${STATE}.`));
  if (entries.length) run('cp', ['-al', ...entries.map((e) => join(from, e)), dest], `copying the source of ${from}`);
  run('cp', ['-a', join(from, OUT), join(dest, OUT)], `copying the build dir ${join(from, OUT)}`);
  rmSync(join(dest, OUT, 'Module.symvers'), { force: true });
  relocateTools(dest, finalPath);
}

/** objtool is built by tools/'s own make, which names every file by its absolute path in its
 * .cmd files. In a tree at another path those commands differ, so objtool is built again, and
 * every object that objtool checks depends on it: a full rebuild. So the tree's old path is
 * replaced by the new one in them (out/tools/**\/.*.cmd, text files of the tree's own). */
export function relocateTools(tree: string, finalPath = tree): number {
  const cmds = spawnSync('find', [join(tree, OUT, 'tools'), '-name', '.*.cmd', '-type', 'f'], { encoding: 'utf8' });
  if (cmds.status !== 0) return 0;
  let changed = 0;
  for (const file of cmds.stdout.split('\n').filter(Boolean)) {
    const text = readFileSync(file, 'utf8');
    const old = /^cmd_(\/\S+?)\/out\/tools\//m.exec(text)?.[1];
    if (!old || old === finalPath) continue;
    writeFileSync(`${file}.tmp`, text.replaceAll(`${old}/`, `${finalPath}/`));
    renameSync(`${file}.tmp`, file);
    changed++;
  }
  return changed;
}

/** Turns a tree with series `from` applied into one with series `to` applied, touching only the
 * files whose content differs. The old series is taken off a scratch copy of the files either
 * series names (patch -R, last first), the new one put on, and each result compared. */
export function switchSeries(tree: string, from: Array<{ name: string; text: string }>, to: Patch[]): string[] {
  const files = [...new Set([...from, ...to].flatMap((p) => filesOfPatch(p.text)))];
  if (!files.length) return [];
  const scratch = `${tree}.switch-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  try {
    for (const f of files) {
      if (!existsSync(join(tree, f))) continue;
      mkdirSync(dirname(join(scratch, f)), { recursive: true });
      copyFileSync(join(tree, f), join(scratch, f));
    }
    applySeries(scratch, from, true);
    applySeries(scratch, to);
    const changed: string[] = [];
    for (const f of files) {
      const now = existsSync(join(tree, f)) ? readFileSync(join(tree, f)) : null;
      const next = existsSync(join(scratch, f)) ? readFileSync(join(scratch, f)) : null;
      if (now && next && now.equals(next)) continue;
      if (!now && !next) continue;
      changed.push(f);
      if (!next) {
        unlinkSync(join(tree, f));
        continue;
      }
      // A new inode, never a write into the hard-linked original the seed tree shares.
      mkdirSync(dirname(join(tree, f)), { recursive: true });
      const tmp = `${join(tree, f)}.kfault-${process.pid}`;
      copyFileSync(join(scratch, f), tmp);
      if (now) run('chmod', ['--reference', join(tree, f), tmp], `keeping the mode of ${f}`);
      renameSync(tmp, join(tree, f));
    }
    return changed;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Unpacks a source package's tarball into dest and applies the series. */
export function unpackTree(tarball: string, dest: string, patches: Patch[]): void {
  mkdirSync(dest, { recursive: true });
  process.stderr.write(`kfault: unpacking ${tarball}\n`);
  run('tar', ['-xf', tarball, '-C', dest, '--strip-components=1'], `unpacking ${tarball}`);
  applySeries(dest, patches);
}

/** The lock of a kernel's build: held while it builds, and while `make modules` writes to it. */
export function buildLockPath(key: string): string {
  return join(cacheDir(), 'build', key);
}

/** The tree trees/<key> as it must be before make: there already (a build that stopped half way
 * goes on where it was), copied from the closest built tree, or unpacked. Says which. The
 * caller holds trees/<key>'s build lock, so copies a killed run of it left can go. */
export async function prepareTree(key: string, want: { source: string; version: string; tarball: string; fragments: string; patches: Patch[] }): Promise<{ tree: string; from: 'same' | 'seed' | 'tarball'; seed?: string; changed?: string[]; sameFragments?: boolean }> {
  const tree = treeDir(key);
  const root = dirname(tree);
  if (existsSync(root)) for (const name of readdirSync(root)) if (name.startsWith(`${key}.tmp-`) || name.startsWith(`${key}.switch-`)) rmSync(join(root, name), { recursive: true, force: true });
  const state = readTreeState(tree);
  if (state && existsSync(join(tree, 'Makefile'))) return { tree, from: 'same' };
  rmSync(tree, { recursive: true, force: true });
  const tmp = `${tree}.tmp-${process.pid}`;
  const record = (): TreeState => ({ source: want.source, version: want.version, fragments: want.fragments, patches: want.patches.map((p) => ({ name: p.name, text: p.text })), built: false });
  const seed = switchable(want.patches) ? closestSeed(want) : null;
  if (seed) {
    try {
      // the seed's own lock: `make modules` may be writing to its out/
      await withBuildLock(buildLockPath(basename(seed.tree)), `copy of the built tree ${seed.tree}`, async () => copyTree(seed.tree, tmp, tree));
      const changed = switchSeries(tmp, seed.state.patches, want.patches);
      writeTreeState(tmp, record());
      renameSync(tmp, tree);
      return { tree, from: 'seed', seed: seed.tree, changed, sameFragments: seed.sameFragments };
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      process.stderr.write(`kfault: could not start from the built tree ${seed.tree} (${(e as Error).message.split('\n')[0]}); unpacking the source instead\n`);
    }
  }
  try {
    unpackTree(want.tarball, tmp, want.patches);
    writeTreeState(tmp, record());
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  renameSync(tmp, tree);
  return { tree, from: 'tarball' };
}

export function markBuilt(tree: string): void {
  const state = readTreeState(tree);
  if (state) writeTreeState(tree, { ...state, built: true, builtAt: Date.now() });
}

/** How many built trees with patches of one source kfault keeps, besides the stock ones (each is
 * ~250 MB of objects; the source is hard-linked). Their kernels stay in the cache and boot; a pruned one's modules cannot be built. */
export const KEEP_TREES = 6;

/** Removes the oldest built trees of a source beyond KEEP_TREES, skipping any whose lock is held.
 * A tree without patches (the stock kernel of its fragments) is never removed, nor counted: every
 * series of that config starts from it, and the stock source is read from it (sourceTreeOf). */
export function pruneTrees(source: string, version: string, keep = KEEP_TREES): string[] {
  const root = join(cacheDir(), 'trees');
  if (!existsSync(root)) return [];
  const built = readdirSync(root)
    .map((name) => ({ name, state: readTreeState(join(root, name)) }))
    .filter((t) => t.state?.built && t.state.source === source && t.state.version === version && t.state.patches.length > 0 && existsSync(join(root, t.name, OUT)))
    .sort((a, b) => (b.state!.builtAt ?? 0) - (a.state!.builtAt ?? 0));
  const binding = loadBinding();
  const removed: string[] = [];
  for (const t of built.slice(keep)) {
    const lock = `${buildLockPath(t.name)}.lock`;
    const fd = binding.lockTry(lock, `pid ${process.pid}: pruning the build tree\n`);
    if (fd === null) continue;
    try {
      rmSync(buildLockPath(t.name), { force: true, recursive: true });
      rmSync(join(root, t.name), { recursive: true, force: true });
      removed.push(t.name);
    } finally {
      binding.lockRelease(fd);
    }
  }
  return removed;
}
