// The merged .config a kernel is (or would be) built with, and the options asked for that
// olddefconfig dropped: from the cache when kfault built that kernel, else by running the
// configure step alone (tinyconfig, merge_config.sh, olddefconfig) in a scratch build dir.
// Nothing is compiled but kconfig's own tool.
import { createWriteStream, existsSync, mkdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, type Config } from '../config.js';
import { cacheDir } from '../paths.js';
import { cacheEntryOf, configure, fragmentsOf, sourceTarball } from './build.js';
import { withBuildLock } from './build-lock.js';
import { buildLockPath, fragmentsHash, prepareTree } from './trees.js';
import { kernelPathProblems } from './check-paths.js';
import { checkKconfig, parseKconfig, type Mismatch } from './kconfig.js';

export interface AskedOption {
  option: string;
  value: string;
  /** the fragment that asks for it (the last one, when several do) */
  fragment: string;
}

export interface MergedConfig {
  /** the .config text */
  text: string;
  /** cache: the .config kfault built this kernel with; olddefconfig: configured just now */
  from: 'cache' | 'olddefconfig';
  /** the source tree it was configured from */
  source: string;
  /** the cache entry of the kernel (Debian source), built or not */
  cacheEntry: string | null;
  asked: AskedOption[];
  /** asked for but not in the .config as asked: a dependency is missing, or no such option */
  dropped: Array<Mismatch & { fragment: string }>;
}

function askedOf(fragments: Array<{ path: string; text: string }>): AskedOption[] {
  const by = new Map<string, AskedOption>();
  for (const f of fragments) for (const [option, value] of parseKconfig(f.text)) by.set(option, { option, value, fragment: f.path });
  return [...by.values()];
}

function result(text: string, from: MergedConfig['from'], source: string, cacheEntry: string | null, fragments: Array<{ path: string; text: string }>): MergedConfig {
  const asked = askedOf(fragments);
  const where = new Map(asked.map((a) => [a.option, a.fragment]));
  const wanted = new Map(asked.map((a) => [a.option, a.value]));
  const dropped = checkKconfig(wanted, parseKconfig(text)).map((m) => ({ ...m, fragment: where.get(m.option)! }));
  return { text, from, source, cacheEntry, asked, dropped };
}

/** Runs the configure step in a scratch dir under the cache; its log stays only on failure. */
async function configureScratch(src: string, fragments: Array<{ path: string; text: string }>): Promise<string> {
  const tmp = join(cacheDir(), 'tmp');
  mkdirSync(tmp, { recursive: true });
  const out = join(tmp, `config-${process.pid}-${Date.now()}`);
  const logPath = `${out}.log`;
  mkdirSync(out);
  const log = createWriteStream(logPath);
  let ok = false;
  try {
    await configure(src, out, fragments, log);
    ok = true;
    return readFileSync(join(out, '.config'), 'utf8');
  } finally {
    await new Promise((r) => log.end(r));
    rmSync(out, { recursive: true, force: true });
    if (ok) rmSync(logPath, { force: true });
  }
}

export async function mergedConfig(config: Config): Promise<MergedConfig> {
  const problems = kernelPathProblems(config.kernel);
  if (problems.length) throw new ConfigError(problems);
  if (config.kernel.image) {
    throw new ConfigError([{ path: 'kernel.image', message: `${config.kernel.image} is a prebuilt image: kfault does not configure it, so it has no merged .config to show (a kernel built with CONFIG_IKCONFIG carries its own: scripts/extract-ikconfig IMAGE)` }]);
  }
  const fragments = fragmentsOf(config);
  if (config.kernel.tree) {
    const tree = realpathSync(resolve(config.kernel.tree)); // a source tree: kernelPathProblems checked it
    return result(await configureScratch(tree, fragments), 'olddefconfig', tree, null, fragments);
  }
  const { version, patches, key, entry } = cacheEntryOf(config, fragments);
  const cached = join(entry, 'config');
  if (existsSync(join(entry, 'meta.json')) && existsSync(cached)) return result(readFileSync(cached, 'utf8'), 'cache', `${config.kernel.source} ${version}`, entry, fragments);
  // the tree the build will use, made now (from the closest built tree, or the tarball)
  const want = { source: config.kernel.source, version, tarball: sourceTarball(config.kernel.source), fragments: fragmentsHash(fragments), patches };
  const { tree: src } = await withBuildLock(buildLockPath(key), `kernel tree ${key}`, () => prepareTree(key, want));
  return result(await configureScratch(src, fragments), 'olddefconfig', src, entry, fragments);
}
