// Users' harnesses: one C file, compiled on the host into a shared object the guest dlopens.
import { withScratchPath } from '../remove-on-exit.js';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { cacheDir } from '../paths.js';

/** How a harness is built; documented in the README. */
export const HARNESS_CFLAGS = ['-shared', '-fPIC', '-O2', '-g', '-Wall', '-Wextra', '-std=gnu11', '-D_GNU_SOURCE'];

export class HarnessCompileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HarnessCompileError';
  }
}

/** $CC as a command and its own arguments ("ccache gcc", "gcc -m64"), as make splits it. */
export function splitCC(cc: string): string[] {
  const words = cc.trim().split(/\s+/).filter(Boolean);
  if (!words.length) throw new HarnessCompileError(`$CC is empty; expected a C compiler such as 'cc' or 'gcc'`);
  return words;
}

/**
 * The cache key of a harness build: everything that goes into it. The preprocessed source holds
 * the text of every header it includes (so a changed header is a new build), and the compiler
 * is named by its own --version and its path (so another $CC is too).
 */
function buildKey(src: string, cc: string[]): string {
  const [cmd, ...ccArgs] = cc;
  const pre = spawnSync(cmd!, [...ccArgs, ...HARNESS_CFLAGS.filter((f) => f !== '-shared'), '-E', src], { maxBuffer: 256 << 20 });
  if (pre.error) throw new HarnessCompileError(`cannot run the C compiler '${cc.join(' ')}' ($CC): ${pre.error.message}`);
  if (pre.status !== 0) throw new HarnessCompileError(`harness ${src} does not compile (${cc.join(' ')} ${HARNESS_CFLAGS.join(' ')}):\n${pre.stderr.toString().trim()}`);
  const version = spawnSync(cmd!, [...ccArgs, '--version'], { encoding: 'utf8' }).stdout ?? '';
  const which = spawnSync('sh', ['-c', 'command -v "$0"', cmd!], { encoding: 'utf8' }).stdout.trim();
  return createHash('sha256').update(JSON.stringify([cc, which, version, HARNESS_CFLAGS])).update(pre.stdout).digest('hex').slice(0, 12);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Half-written builds (NAME.so.tmp-PID) of a kfault that was killed while its compiler ran:
 * removed when their process is gone. */
export function removeStaleBuilds(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const stale = names.filter((n) => {
    const m = /\.so\.tmp-(\d+)$/.exec(n);
    return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  });
  for (const n of stale) rmSync(join(dir, n), { force: true });
  return stale.map((n) => join(dir, n));
}

/** Compiles file (cached by everything that goes into the build) and returns the shared object's path. */
export function compileHarness(file: string, ccVar = process.env.CC || 'cc'): string {
  const src = resolve(file);
  if (!existsSync(src)) throw new HarnessCompileError(`harness ${src} does not exist`);
  const cc = splitCC(ccVar);
  const hash = buildKey(src, cc);
  const dir = join(cacheDir(), 'harnesses');
  const so = join(dir, `${basename(src, '.c')}-${hash}.so`);
  if (existsSync(so)) return so;
  mkdirSync(dir, { recursive: true });
  removeStaleBuilds(dir);
  const tmp = `${so}.tmp-${process.pid}`;
  return withScratchPath(tmp, () => {
    const r = spawnSync(cc[0]!, [...cc.slice(1), ...HARNESS_CFLAGS, '-o', tmp, src], { encoding: 'utf8' });
    if (r.error) throw new HarnessCompileError(`cannot run the C compiler '${cc.join(' ')}' ($CC): ${r.error.message}`);
    if (r.status !== 0) rmSync(tmp, { force: true });
    if (r.status !== 0) throw new HarnessCompileError(`harness ${src} does not compile (${cc.join(' ')} ${HARNESS_CFLAGS.join(' ')}):\n${r.stderr.trim()}`);
    renameSync(tmp, so);
    return so;
  });
}

/** "path/to/file.c" or "path/to/file.c:ARG" -> the file and its argument. */
export function parseHarnessSpec(spec: string): { file: string; arg: string } | null {
  const m = /^(.+\.c)(?::(.*))?$/.exec(spec);
  return m ? { file: m[1]!, arg: m[2] ?? '' } : null;
}
