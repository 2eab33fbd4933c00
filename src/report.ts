// Sweep results as text: a table per harness and a summary line.
import { kernelProblems } from './kmsg/problems.js';
import type { Step, SweepResult } from './protocol.js';

/**
 * failed: the injected fault made the call fail (an error path ran);
 * tolerated: the fault struck the code under test and the call still succeeded;
 * absorbed: kmemleak took the fault on its own metadata allocation, so it never reached the code
 *   under test;
 * end: nothing was injected, the sweep is over.
 *
 * Fault injection logs no stack trace for a __GFP_NOWARN allocation, and kmemleak's are all of
 * that kind. So a silent injection whose call succeeded is kmemleak's only when kmemleak is on
 * and the stack filter did not keep faults out of its code; with the filter on it can only be a
 * __GFP_NOWARN allocation of the code under test, which tolerated the failure; likewise on a
 * kernel that keeps kmemleak's allocations out of fault injection itself (kfault's patch).
 */
export type Verdict = 'failed' | 'tolerated' | 'absorbed' | 'end';

export function verdict(s: Step, r: Pick<SweepResult, 'kmemleakFilter'>): Verdict {
  if (!s.injected) return 'end';
  if (s.ret < 0) return 'failed';
  if (s.fault) return s.fault.inKmemleak ? 'absorbed' : 'tolerated';
  const f = r.kmemleakFilter;
  return f.kmemleakOn && !f.applied && !f.kernelKeepsOut ? 'absorbed' : 'tolerated';
}

export interface SweepCounts {
  points: number;
  failed: number;
  tolerated: number;
  absorbed: number;
}

export function counts(r: SweepResult): SweepCounts {
  const v = r.steps.map((s) => verdict(s, r));
  const n = (k: Verdict) => v.filter((x) => x === k).length;
  return { points: r.steps.filter((s) => s.injected).length, failed: n('failed'), tolerated: n('tolerated'), absorbed: n('absorbed') };
}

/** The traced call sites where injected faults reached the code under test, in order. */
export function callSites(r: SweepResult): string[] {
  return r.steps.filter((s) => s.fault && !s.fault.inKmemleak).map((s) => s.fault!.callSite ?? '?');
}

export function summaryLine(r: SweepResult): string {
  const c = counts(r);
  const end = r.complete ? `ended at nth=${r.steps.length}` : `stopped at max-steps ${r.maxSteps} (more failure points remain)`;
  return `${r.harness}: ${c.points} failure points: ${c.failed} failed, ${c.tolerated} tolerated, ${c.absorbed} absorbed; ${end}; ${Math.round(r.ms)} ms`;
}

function site(s: Step): string {
  const problems = kernelProblems(s.kmsg).map((p) => `  !! ${p}`).join('');
  if (!s.fault) return (s.injected ? '(no trace: a __GFP_NOWARN allocation)' : '') + problems;
  return [s.fault.callSite ?? '?', s.fault.caller].filter(Boolean).join(' <- ') + (s.fault.inKmemleak ? ' [kmemleak]' : '') + problems;
}

export function sweepTable(r: SweepResult): string {
  const rows = [['nth', 'verdict', 'errno', 'call site']];
  for (const s of r.steps) rows.push([String(s.nth), verdict(s, r), s.errno ?? '-', site(s)]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => '  ' + row.map((cell, i) => (i === 0 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd());
  return [`${r.harness} — ${r.summary} (${r.syscall})`, ...lines, `kmemleak filter: ${r.kmemleakFilter.note}`, summaryLine(r)].join('\n');
}

export function totalsLine(results: SweepResult[], ms: number): string {
  const sum = results.map(counts).reduce((a, c) => ({ points: a.points + c.points, failed: a.failed + c.failed, tolerated: a.tolerated + c.tolerated, absorbed: a.absorbed + c.absorbed }));
  const incomplete = results.filter((r) => !r.complete).length;
  return `${results.length} harnesses swept: ${sum.points} failure points: ${sum.failed} failed, ${sum.tolerated} tolerated, ${sum.absorbed} absorbed${incomplete ? `; ${incomplete} stopped at max-steps` : ''}; ${(ms / 1000).toFixed(1)} s`;
}
