// Users' harnesses: one C file, compiled on the host into a shared object the guest dlopens.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
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

/** Compiles file (cached by content) and returns the shared object's path. */
export function compileHarness(file: string, cc = process.env.CC || 'cc'): string {
  const src = resolve(file);
  if (!existsSync(src)) throw new HarnessCompileError(`harness ${src} does not exist`);
  const text = readFileSync(src);
  const hash = createHash('sha256').update(text).update(HARNESS_CFLAGS.join(' ')).digest('hex').slice(0, 12);
  const dir = join(cacheDir(), 'harnesses');
  const so = join(dir, `${basename(src, '.c')}-${hash}.so`);
  if (existsSync(so)) return so;
  mkdirSync(dir, { recursive: true });
  const tmp = `${so}.tmp-${process.pid}`;
  const r = spawnSync(cc, [...HARNESS_CFLAGS, '-o', tmp, src], { encoding: 'utf8' });
  if (r.error) throw new HarnessCompileError(`cannot run the C compiler '${cc}': ${r.error.message}`);
  if (r.status !== 0) throw new HarnessCompileError(`harness ${src} does not compile (${cc} ${HARNESS_CFLAGS.join(' ')}):\n${r.stderr.trim()}`);
  renameSync(tmp, so);
  return so;
}

/** "path/to/file.c" or "path/to/file.c:ARG" -> the file and its argument. */
export function parseHarnessSpec(spec: string): { file: string; arg: string } | null {
  const m = /^(.+\.c)(?::(.*))?$/.exec(spec);
  return m ? { file: m[1]!, arg: m[2] ?? '' } : null;
}
