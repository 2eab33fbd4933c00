// What `kfault sweep --json` writes, read back by `kfault report` (offline, no guest).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { Leak } from './kmsg/kmemleak-report.js';
import { SweepResult } from './protocol.js';

export const ResultsFile = z.strictObject({
  kernel: z.string(),
  accel: z.string(),
  results: z.array(SweepResult),
  leaks: z.array(Leak).nullable(),
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
  return r.data;
}
