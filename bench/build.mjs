// Kernel build figures (`npm run bench -- --only build`): a cache hit and the
// rebuilds of the edit-build loop, each through `kfault kernel build` as a user runs it:
// - onePatch: stock + a one-line change (bench/one-patch) in the cache, where kfault starts it
//   from a copy of the closest built tree (src/kernel/trees.ts);
// - secondSeries: bench/one-patch's patch + one line of fs/pipe.c (bench/second-series), right
//   after bench/one-patch was built: a second series on the first's source and config;
// - freshSource: bench/one-patch again in an empty kfault cache with ccache warm: the other way
//   to make a series cheap (a fresh copy of the source, ccache's objects), for comparison.
// The entries the rebuilds make are removed before and after, so each is measured from the same
// state and the cache is left as it was.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../dist/config.js';
import { cacheEntryOf } from '../dist/kernel/build.js';
import { treeDir, buildLockPath } from '../dist/kernel/trees.js';

function ccacheStats(dir) {
  const r = spawnSync('ccache', ['--print-stats'], { encoding: 'utf8', env: { ...process.env, ...(dir ? { CCACHE_DIR: dir } : {}) } });
  if (r.status !== 0) return null;
  const get = (k) => Number(new RegExp(`^${k}\\t(\\d+)`, 'm').exec(r.stdout)?.[1] ?? 0);
  return { hits: get('direct_cache_hit') + get('preprocessed_cache_hit'), misses: get('cache_miss') };
}

function ccacheDir() {
  const r = spawnSync('ccache', ['--get-config', 'cache_dir'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function removeEntry(patchesDir) {
  const { key, entry } = cacheEntryOf(parseConfig({ kernel: { patches: patchesDir } }));
  for (const p of [entry, treeDir(key), buildLockPath(key)]) rmSync(p, { recursive: true, force: true });
  return { key, entry };
}

export async function buildSection({ root, here, kernel, coldBuiltMs, log, stats, now, scratchRoot }) {
  const cli = (args, env = {}) => {
    const t0 = now();
    const r = spawnSync(process.execPath, [join(root, 'bin/kfault.js'), ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`kfault ${args.join(' ')}: exit ${r.status}: ${r.stderr.slice(-2000)}`);
    return { ms: now() - t0, stderr: r.stderr };
  };
  const meta = (entry) => JSON.parse(readFileSync(join(entry, 'meta.json'), 'utf8'));
  const ccache = ccacheDir();
  const out = { warm: null, onePatch: null, secondSeries: null, freshSource: null, cold: null };

  log('kernel build: cached (3 times)');
  out.warm = stats([0, 1, 2].map(() => cli(['kernel', 'build']).ms));

  if (process.env.BENCH_COLD_BUILD === '1') {
    const scratch = join(scratchRoot, 'build-cold');
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(join(scratch, 'ccache'), { recursive: true });
    try {
      log('kernel build: cold (empty kfault cache, empty ccache)');
      const r = cli(['kernel', 'build'], { XDG_CACHE_HOME: scratch, CCACHE_DIR: join(scratch, 'ccache') });
      out.cold = { wallMs: r.ms, measured: 'this run' };
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  } else if (coldBuiltMs !== null) {
    out.cold = { wallMs: coldBuiltMs, measured: 'this run (the kernel was not in the cache)' };
  } else {
    const m = meta(kernel.dir);
    out.cold = { wallMs: m.buildSeconds * 1000, objects: m.objects, measured: 'when this machine first built the kernel (meta.json); BENCH_COLD_BUILD=1 measures it' };
  }

  // keep: leave the entry for the next rebuild to start from (removed at the end)
  const rebuild = (what, patchesDir, env = {}, keep = false) => {
    const { entry } = removeEntry(patchesDir);
    const before = ccache ? ccacheStats(env.CCACHE_DIR ?? null) : null;
    log(`kernel build: ${what}`);
    try {
      const r = cli(['kernel', 'build', '--patches', patchesDir], env);
      const after = ccache ? ccacheStats(env.CCACHE_DIR ?? null) : null;
      const m = meta(env.XDG_CACHE_HOME ? join(env.XDG_CACHE_HOME, 'kfault/kernels', entry.split('/').pop()) : entry);
      const seed = /building on a copy of (\S+): (.*)/.exec(r.stderr);
      return { wallMs: r.ms, objects: m.objects, from: m.from ?? 'tarball', seed: seed ? seed[1].split('/').pop() : null, changed: seed ? seed[2] : null, ccache: before && after ? { hits: after.hits - before.hits, misses: after.misses - before.misses } : null };
    } finally {
      if (!keep) removeEntry(patchesDir);
    }
  };
  try {
    out.onePatch = rebuild('one patch (bench/one-patch: one line of mm/kmemleak.c on stock)', join(here, 'one-patch'), {}, true);
    out.secondSeries = rebuild("a second series (bench/second-series: bench/one-patch's patch + one line of fs/pipe.c)", join(here, 'second-series'));
  } finally {
    removeEntry(join(here, 'one-patch'));
  }
  if (ccache) {
    const scratch = join(scratchRoot, 'build-fresh-source');
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch, { recursive: true });
    try {
      out.freshSource = rebuild('one patch from a fresh copy of the source, ccache warm (empty kfault cache)', join(here, 'one-patch'), { XDG_CACHE_HOME: scratch, CCACHE_DIR: ccache });
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  return out;
}

export function buildMarkdown(k, { p, ms, msRange, when }) {
  p(`**Kernel build** (${when(k)}; \`npm run bench -- --only build\`)`);
  p();
  p('| build | wall time | objects made | |');
  p('|---|---|---|---|');
  if (k.cold) p(`| ${k.cold.measured.startsWith('this run') ? 'cold: empty kfault cache and ccache' : 'first build of this kernel here (ccache as it was then)'} | ${ms(k.cold.wallMs)} | ${k.cold.objects ?? ''} | ${k.cold.measured} |`);
  p(`| warm: cache hit (\`kfault kernel build\`, Node start included) | ${msRange(k.warm)} | 0 | |`);
  const from = (x) => (x.from === 'seed' ? `from a copy of the built tree ${x.seed}${x.changed ? ` (${x.changed})` : ''}` : x.from === 'tarball' ? 'from the tarball' : x.from);
  const cc = (x) => (x.ccache ? `; ccache: ${x.ccache.hits} hits, ${x.ccache.misses} misses` : '');
  if (k.onePatch) p(`| **one-patch rebuild** (bench/one-patch: one line of mm/kmemleak.c on stock) | **${ms(k.onePatch.wallMs)}** | ${k.onePatch.objects} | ${from(k.onePatch)}${cc(k.onePatch)} |`);
  if (k.secondSeries) p(`| a second series on the first's source and config (bench/second-series, after bench/one-patch) | ${ms(k.secondSeries.wallMs)} | ${k.secondSeries.objects} | ${from(k.secondSeries)}${cc(k.secondSeries)} |`);
  if (k.freshSource) p(`| the other way: bench/one-patch from a fresh copy of the source, ccache warm | ${ms(k.freshSource.wallMs)} | ${k.freshSource.objects} | ${from(k.freshSource)}${cc(k.freshSource)} |`);
  p();
}
