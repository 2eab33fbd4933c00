// What `kfault sweep --json` writes, read back by `kfault report` (offline, no guest).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { Leak } from './kmsg/leak.js';
import { SweepResult } from './protocol.js';
import { groupProblems, ProblemGroup } from './reports/groups.js';
import { ResultsProblem } from './repro/problems.js';

/** Bump when the shape changes in a way old readers would misread. */
export const RESULTS_SCHEMA = 'kfault/results@1';

export const ResultsFile = z.strictObject({
  schema: z.literal(RESULTS_SCHEMA),
  kernel: z.string(),
  accel: z.string(),
  results: z.array(SweepResult),
  /** the kmemleak check after the sweeps; null: not checked */
  kmemleak: z
    .strictObject({ enabled: z.boolean(), why: z.string().nullable(), unattributed: z.array(Leak), suppressed: z.number().int(), raw: z.string() })
    .nullable(),
  /** how many times the guest was booted again after a crash or hang */
  restarts: z.number().int().nonnegative(),
  /** the problems of all results, one group per bug (src/reports/groups.ts); derived from
   * results, so files written before it existed read as if they had it */
  groups: z.array(ProblemGroup).default([]),
  /** the kfault that wrote it (package.json's version); older files: unknown */
  kfault: z.string().default('unknown'),
  /** kernel modules the guest loaded before the sweeps: the .ko files and their parameters */
  modules: z.array(z.strictObject({ path: z.string(), params: z.string() })).default([]),
  /** every problem of every sweep, with its reproducer (kfault repro); older files: [] */
  problems: z.array(ResultsProblem).default([]),
});
export type ResultsFile = z.infer<typeof ResultsFile>;

export function readResultsFile(path: string): ResultsFile {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not a kfault results file: ${(e as Error).message}`);
  }
  const r = ResultsFile.safeParse(json);
  if (!r.success) {
    throw new Error(`${path}: not a kfault results file:\n${r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`);
  }
  // a file from before groups existed: they are derived from the results, so derive them
  if (!(json as { groups?: unknown }).groups) return { ...r.data, groups: groupProblems(r.data.results) };
  return r.data;
}
