// The problems a reproducer can be written for, and the `reproducer` each gets in the results.
// A reproducer is made for one (harness, nth, kind): the first nth of a group of problems, when
// problems are grouped, or each problem's own nth.
import { z } from 'zod';
import { problems, type Problem } from '../report.js';
import type { SweepResult } from '../protocol.js';

/** What kinds a reproducer can show: a leak (kmemleak), an oops or panic, a WARNING. */
export const REPRODUCIBLE = ['leak', 'oops', 'panic', 'warning'] as const;
export type ReproKind = (typeof REPRODUCIBLE)[number];

export const Reproducer = z.strictObject({
  /** `kfault repro RESULTS.json --problem N` */
  problem: z.number().int().positive(),
  /** the file it writes (in --out DIR) */
  file: z.string(),
  command: z.string(),
});
export type Reproducer = z.infer<typeof Reproducer>;

/** One entry of the results file's problems: a step's problem, and its reproducer (null: none can be written, why says why). */
export const ResultsProblem = z.strictObject({
  harness: z.string(),
  nth: z.number().int().positive().nullable(),
  kind: z.string(),
  text: z.string(),
  reproducer: Reproducer.nullable(),
  why: z.string().nullable().default(null),
});
export type ResultsProblem = z.infer<typeof ResultsProblem>;

const slug = (s: string) => s.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '');

/** The file a reproducer of (harness, nth, kind) goes to. */
export function reproFileName(id: number, harness: string, nth: number, kind: string): string {
  return `repro-${id}-${slug(harness)}-${kind}-nth${nth}.c`;
}

/** Why no reproducer can be written for a problem, or null when one can. */
export function notReproducible(r: Pick<SweepResult, 'mode'> & Partial<Pick<SweepResult, 'steps'>>, p: Pick<Problem, 'nth' | 'kind'>): string | null {
  if (r.mode === 'function') return 'function mode: kfault repro does not write fail_function reproducers yet; sweep the harness again with --mode function';
  if (r.mode !== 'systematic') return 'random mode: no nth to arm';
  if (r.steps?.some((s) => s.command)) return 'a program swept under ptrace: run kfault command --sweep again (kfault repro writes reproducers of harnesses)';
  if (p.nth === null) return "made in the harness's setup or teardown, outside any armed step";
  if (p.kind === 'corrupted') return "a corrupted filesystem: kfault repro writes reproducers of leaks, oopses and warnings, not of e2fsck's findings (they need the scratch disk and the check between steps); sweep the harness again with its disk";
  if (!(REPRODUCIBLE as readonly string[]).includes(p.kind)) return `a ${p.kind}: kfault repro writes reproducers of leaks, oopses and warnings`;
  return null;
}

/** The reproducer of (harness, nth, kind), numbered id: what a problem (or a group's first nth) carries. */
export function reproducerFor(id: number, harness: string, nth: number, kind: string): Reproducer {
  return { problem: id, file: reproFileName(id, harness, nth, kind), command: `kfault repro RESULTS.json --problem ${id}` };
}

/** Every problem of the results, in order, with its reproducer. Numbers count reproducible problems only. */
export function resultsProblems(results: SweepResult[]): ResultsProblem[] {
  const out: ResultsProblem[] = [];
  let id = 0;
  for (const r of results) {
    for (const p of problems(r)) {
      const why = notReproducible(r, p);
      out.push({ harness: r.harness, nth: p.nth, kind: p.kind, text: p.text, reproducer: why ? null : reproducerFor(++id, r.harness, p.nth!, p.kind), why });
    }
  }
  return out;
}
