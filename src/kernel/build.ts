// Config, build and cache of the guest kernel: Debian's linux-source by default, a user's tree,
// or a prebuilt image.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { copyFileSync, createWriteStream, type WriteStream, existsSync, mkdirSync, openSync, readFileSync, readSync, closeSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError, type Config } from '../config.js';
import { kernelPathProblems } from './check-paths.js';
import { cacheDir, packageRoot } from '../paths.js';
import { checkKconfig, formatMismatches, parseKconfig } from './kconfig.js';
import { readSeries, type Patch } from './patches.js';
import { withBuildLock } from './build-lock.js';
import { Progress } from '../progress.js';
import { kmemleakRangeOfBuild } from './kmemleak-text.js';
import type { TextRange } from '../protocol.js';
import { run } from './run.js';
import { buildLockPath, fragmentsHash, KEEP_TREES, markBuilt, OUT, prepareTree, pruneTrees, treeDir } from './trees.js';

/** Bump when the way kernels are built changes, so old cache entries are not reused. */
const RECIPE = 1;
export const DEFAULT_FRAGMENT = join(packageRoot, 'kernel/kfault.config');
export const KASAN_FRAGMENT = join(packageRoot, 'kernel/kasan.config');
export const DEFAULT_PATCHES = join(packageRoot, 'kernel/patches');
/** kfault's kernel patch: kmemleak's own allocations never take an injected fault */
export const DEFAULT_KMEMLEAK_PATCH = join(packageRoot, 'kernel/patches/kmemleak-no-fault-inject');

export interface Kernel {
  image: string;
  /** how it was obtained */
  origin: 'cache' | 'built' | 'prebuilt';
  /** the cache entry or build dir, when kfault built it */
  dir?: string;
  /** the kernel's build dir (O=), where out-of-tree modules are built against it */
  buildDir?: string;
  systemMap?: string;
  /** kmemleak's text, for the stack filter that keeps injected faults out of it */
  kmemleakText: { range: TextRange | null; why: string };
}

const Meta = z.object({ recipe: z.number(), key: z.string(), source: z.string(), version: z.string(), objects: z.number(), buildSeconds: z.number(), from: z.enum(['same', 'seed', 'tarball']).optional() });

export interface KernelRecipe {
  source: string;
  version: string;
  fragments: Array<{ path: string; text: string }>;
  patches: Patch[];
}

/** Pure: the cache key of a kernel (source version, fragments, patches, recipe). */
export function cacheKey(r: KernelRecipe): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ recipe: RECIPE, source: r.source, version: r.version, fragments: r.fragments.map((f) => f.text), patches: r.patches.map((p) => [p.name, p.text]) }));
  return h.digest('hex').slice(0, 16);
}

export function debianSourceVersion(pkg: string): string {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout.trim()) {
    throw new Error(`Debian package ${pkg} is not installed; install it with: apt-get install ${pkg}`);
  }
  return r.stdout.trim();
}

/** What kind of file a kernel image is, from its first bytes. */
export function imageKind(path: string): 'bzImage' | 'vmlinux' | null {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(0x210);
    readSync(fd, buf, 0, buf.length, 0);
    if (buf.subarray(0, 4).toString('latin1') === '\x7fELF') return 'vmlinux';
    if (buf.subarray(0x202, 0x206).toString('latin1') === 'HdrS') return 'bzImage';
    return null;
  } finally {
    closeSync(fd);
  }
}

/** A prebuilt image, as kernelPathProblems (src/kernel/check-paths.ts) has checked it. */
function prebuilt(path: string): Kernel {
  return { image: resolve(path), origin: 'prebuilt', kmemleakText: { range: null, why: 'a prebuilt image has no build dir to read kmemleak.o from' } };
}

/** kernel.profiles' fragments: kernel/<profile>.config */
export const profileFragment = (profile: string) => join(packageRoot, `kernel/${profile}.config`);

export function fragmentsOf(config: Config): Array<{ path: string; text: string }> {
  const paths = [DEFAULT_FRAGMENT, ...(config.kernel.kasan ? [KASAN_FRAGMENT] : []), ...config.kernel.profiles.map(profileFragment), ...config.kernel.fragments.map((f) => resolve(f))];
  // a profile's fragment also named with --fragment is merged once (and the cache key is the same)
  return [...new Set(paths)].map((path) => {
    if (!existsSync(path)) throw new Error(`kernel.fragments: ${path} does not exist`);
    return { path, text: readFileSync(path, 'utf8') };
  });
}

export function makeEnv(): { env: NodeJS.ProcessEnv; cc: string[] } {
  const ccache = spawnSync('ccache', ['--version'], { stdio: 'ignore' }).status === 0;
  // Sources of different cache entries live in different directories: a common base dir lets
  // ccache hit across them (the stock and the patched kernel share almost every object).
  const env = { ...process.env, CCACHE_BASEDIR: cacheDir(), CCACHE_NOHASHDIR: '1', KBUILD_BUILD_TIMESTAMP: '2024-01-01', KBUILD_BUILD_USER: 'kfault', KBUILD_BUILD_HOST: 'kfault' };
  return { env, cc: ccache ? ['CC=ccache gcc'] : [] };
}

/** tinyconfig + fragments (merge_config.sh), then olddefconfig: out/.config, nothing compiled
 * but kconfig's own tool. Also what `kfault kernel config` runs. */
export async function configure(src: string, out: string, fragments: Array<{ path: string }>, log: WriteStream): Promise<void> {
  const { env, cc } = makeEnv();
  const make = (...targets: string[]) => ['-C', src, `O=${out}`, 'ARCH=x86_64', ...cc, ...targets];
  await run('make', make('tinyconfig'), { log, env });
  await run(join(src, 'scripts/kconfig/merge_config.sh'), ['-m', '-O', out, join(out, '.config'), ...fragments.map((f) => f.path)], { log, env, cwd: src });
  await run('make', make('olddefconfig'), { log, env });
}

/** configure, the fragment check, then bzImage. */
async function configureAndBuild(src: string, out: string, fragments: Array<{ path: string; text: string }>, label: string, expectObjects: number | null, configured = false): Promise<number> {
  mkdirSync(out, { recursive: true });
  const log = createWriteStream(join(out, 'kfault-build.log'));
  const { env, cc } = makeEnv();
  const make = (...targets: string[]) => ['-C', src, `O=${out}`, 'ARCH=x86_64', ...cc, ...targets];
  const progress = new Progress(label);
  let objects = 0;
  try {
    if (!configured) {
      progress.update('configuring');
      await configure(src, out, fragments, log);
    }
    const missing = checkKconfig(parseKconfig(fragments.map((f) => f.text).join('\n')), parseKconfig(readFileSync(join(out, '.config'), 'utf8')));
    if (missing.length) {
      throw new Error(`the kernel config lacks options the fragments ask for (a dependency is missing or the option does not exist in this tree):\n${formatMismatches(missing)}`);
    }
    await run('make', make(`-j${availableParallelism() + 1}`, 'bzImage'), {
      log,
      env,
      onLine: (line) => {
        const m = /^\s+(CC|AS|LD|AR)\s+(\S+)/.exec(line);
        if (!m) return;
        objects++;
        progress.update(`${expectObjects ? `${Math.min(99, Math.round((100 * objects) / expectObjects))}%` : `${objects} rebuilt`}  ${m[1]} ${m[2]}`);
      },
    });
  } catch (e) {
    if (process.stderr.isTTY) process.stderr.write('\n');
    throw e;
  } finally {
    await new Promise((r) => log.end(r));
  }
  progress.done(`built ${join(out, 'arch/x86/boot/bzImage')} (${objects} objects made)`);
  return objects;
}

/** The Debian source package's tarball, checked to be there. */
export function sourceTarball(pkg: string): string {
  const tarball = `/usr/src/${pkg}.tar.xz`;
  if (!existsSync(tarball)) throw new Error(`${tarball} not found; install it with: apt-get install ${pkg}`);
  return tarball;
}

/** kbuild cannot build in or from a path with blanks (make splits O= and its own paths). */
export function kbuildPathProblem(path: string, what: string): string | null {
  return /\s/.test(path) ? `${what} ${JSON.stringify(path)} holds a blank, and the kernel's build system cannot work in such a path; ${what === 'the kfault cache' ? 'set XDG_CACHE_HOME to a path without blanks' : 'move it to a path without blanks'}` : null;
}

/** Where the Debian-source kernel the config asks for is (or would be) cached. */
export function cacheEntryOf(config: Config, fragments = fragmentsOf(config)) {
  const version = debianSourceVersion(config.kernel.source);
  const patches = readSeries(config.kernel.patches ?? DEFAULT_PATCHES);
  const key = cacheKey({ source: config.kernel.source, version, fragments, patches });
  return { version, patches, key, entry: join(cacheDir(), 'kernels', key) };
}

/** The source tree the config's Debian-source kernel is built from (trees/<key>). */
export function sourceTreeOf(config: Config): string {
  const { key } = cacheEntryOf(config);
  const tree = treeDir(key);
  if (!existsSync(join(tree, 'scripts'))) throw new Error(`${tree} is not there: build the kernel first (kfault kernel build)`);
  return tree;
}

/** The kernel the config asks for: from the cache when it is there, built otherwise. */
export async function ensureKernel(config: Config): Promise<Kernel> {
  const problems = kernelPathProblems(config.kernel);
  if (problems.length) throw new ConfigError(problems);
  if (config.kernel.image) return prebuilt(config.kernel.image);
  const fragments = fragmentsOf(config);
  const blank = kbuildPathProblem(cacheDir(), 'the kfault cache') ?? (config.kernel.tree ? kbuildPathProblem(resolve(config.kernel.tree), 'the kernel tree') : null);
  if (blank && config.kernel.tree) throw new Error(blank);

  if (config.kernel.tree) {
    // A developer's tree changes under us: always run make (it rebuilds only what changed).
    const tree = realpathSync(resolve(config.kernel.tree)); // a source tree: kernelPathProblems checked it
    const out = join(cacheDir(), 'build', `tree-${createHash('sha256').update(tree).digest('hex').slice(0, 12)}`);
    await withBuildLock(out, `kernel build of ${tree}`, () => configureAndBuild(tree, out, fragments, `kernel build (${tree})`, 1800));
    const systemMap = join(out, 'System.map');
    return { image: join(out, 'arch/x86/boot/bzImage'), origin: 'built', dir: out, buildDir: out, systemMap, kmemleakText: kmemleakRangeOfBuild(out, systemMap) };
  }

  const { version, patches, key, entry } = cacheEntryOf(config, fragments);
  const metaPath = join(entry, 'meta.json');
  // build/<key>: the build dir modules are built against; for kernels built in a tree
  // (trees/<key>/out) a link to it, for older cache entries the build dir itself.
  const out = buildLockPath(key);
  const cached = () => existsSync(metaPath) && existsSync(join(entry, 'bzImage'));
  const fromCache = (): Kernel => ({ image: join(entry, 'bzImage'), origin: 'cache', dir: entry, buildDir: out, systemMap: join(entry, 'System.map'), kmemleakText: kmemleakTextOf(entry, out) });
  if (cached()) return fromCache();
  if (blank) throw new Error(blank);
  return withBuildLock(out, `kernel build ${key}`, async () => {
    if (cached()) return fromCache(); // built by the process we waited for
    const start = Date.now();
    const prepared = await prepareTree(key, { source: config.kernel.source, version, tarball: sourceTarball(config.kernel.source), fragments: fragmentsHash(fragments), patches });
    const treeOut = join(prepared.tree, OUT);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(treeOut, { recursive: true });
    symlinkSync(relative(dirname(out), treeOut), out);
    const label = `kernel ${prepared.from === 'tarball' ? 'build' : 'rebuild'} (${config.kernel.source} ${version}, ${key})`;
    if (prepared.from === 'seed') process.stderr.write(`kfault: building on a copy of ${prepared.seed}: ${describeChanged(prepared.changed ?? [])}\n`);
    // A copy of a tree configured from the same fragments, with no Kconfig file changed, has
    // its .config already: configuring again (three makes, ~25 s here) would give the same.
    const configured = prepared.from === 'seed' && prepared.sameFragments === true && !(prepared.changed ?? []).some((f) => /(^|\/)Kconfig[^/]*$/.test(f));
    const objects = await configureAndBuild(prepared.tree, treeOut, fragments, label, prepared.from === 'tarball' ? 1800 : null, configured);
    mkdirSync(entry, { recursive: true });
    copyFileSync(join(treeOut, 'arch/x86/boot/bzImage'), join(entry, 'bzImage'));
    copyFileSync(join(treeOut, '.config'), join(entry, 'config'));
    copyFileSync(join(treeOut, 'System.map'), join(entry, 'System.map'));
    markBuilt(prepared.tree);
    const pruned = pruneTrees(config.kernel.source, version);
    if (pruned.length) process.stderr.write(`kfault: removed the build trees of ${pruned.join(', ')} (kfault keeps the ${KEEP_TREES} newest patched trees of a source, and its stock ones; those kernels still boot from the cache, but out-of-tree modules cannot be built for them)\n`);
    const meta = { recipe: RECIPE, key, source: config.kernel.source, version, objects, buildSeconds: Math.round((Date.now() - start) / 1000), from: prepared.from };
    writeFileSync(metaPath, JSON.stringify(Meta.parse(meta), null, 2) + '\n');
    return { ...fromCache(), origin: 'built' as const };
  });
}

function describeChanged(files: string[]): string {
  if (!files.length) return 'no source file differs';
  const shown = files.slice(0, 5).join(', ');
  return `${files.length} source file${files.length === 1 ? ' differs' : 's differ'} (${shown}${files.length > 5 ? ', ...' : ''})`;
}

/** Read once from the build dir, then kept with the cache entry (the build dir may be cleaned). */
function kmemleakTextOf(entry: string, buildDir: string): { range: TextRange | null; why: string } {
  const saved = join(entry, 'kmemleak-text.json');
  if (existsSync(saved)) return JSON.parse(readFileSync(saved, 'utf8')) as { range: TextRange | null; why: string };
  const found = kmemleakRangeOfBuild(buildDir, join(entry, 'System.map'));
  if (found.range) writeFileSync(saved, JSON.stringify(found) + '\n');
  return found;
}
