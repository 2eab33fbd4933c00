// `kfault repro RESULTS.json [--out DIR] [--problem N]`: writes (and builds, to check it) a
// standalone C reproducer for each problem of a saved sweep.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ResultsFile } from '../results-file.js';
import { generateRepro, reproTargets, ReproError } from './generate.js';

export interface ReproWritten {
  id: number;
  harness: string;
  nth: number;
  kind: string;
  text: string;
  /** the .c file */
  source: string;
  /** the program cc built from it, or null (cc missing or failed: see buildError) */
  program: string | null;
  buildError: string | null;
  build: string;
}

/** Writes the reproducers (all, or problem `only`) to out, each built with cc next to it. */
export function writeRepros(file: ResultsFile, resultsPath: string, out: string, only?: number, cc = process.env.CC || 'cc'): ReproWritten[] {
  const targets = reproTargets(file);
  if (!targets.length) throw new ReproError(`${resultsPath}: no problem a reproducer can be written for (leaks, oopses and warnings of systematic sweeps)`);
  const chosen = only === undefined ? targets : targets.filter((t) => t.id === only);
  if (!chosen.length) throw new ReproError(`${resultsPath}: no problem ${only}; the problems with a reproducer are ${targets.map((t) => t.id).join(', ')}`);
  const dir = resolve(out);
  mkdirSync(dir, { recursive: true });
  return chosen.map((t) => {
    const r = generateRepro(file, t, { resultsPath });
    const source = join(dir, r.file);
    writeFileSync(source, r.text);
    const [, ...args] = r.build.split(' ');
    const b = spawnSync(cc, args, { cwd: dir, encoding: 'utf8' });
    const buildError = b.error ? `cannot run ${cc}: ${b.error.message}` : b.status !== 0 ? b.stderr.trim() : null;
    return { id: t.id, harness: t.result.harness, nth: t.nth, kind: t.kind, text: t.text, source, program: buildError ? null : join(dir, r.file.replace(/\.c$/, '')), buildError, build: r.build };
  });
}
