// Sweep results as text: a table per harness and a summary line.
import type { SweepResult } from './protocol.js';

export interface SweepCounts {
  points: number;
  failed: number;
  /** injected, yet the call succeeded: the fault landed somewhere that absorbed it */
  absorbed: number;
}

export function counts(r: SweepResult): SweepCounts {
  const injected = r.steps.filter((s) => s.injected);
  return {
    points: injected.length,
    failed: injected.filter((s) => s.ret < 0).length,
    absorbed: injected.filter((s) => s.ret === 0).length,
  };
}

export function summaryLine(r: SweepResult): string {
  const c = counts(r);
  const end = r.complete ? `ended at nth=${r.steps.length}` : `stopped at max-steps ${r.maxSteps} (more failure points remain)`;
  return `${r.harness}: ${c.points} failure points, ${c.failed} failed the call, ${c.absorbed} injected but the call succeeded; ${end}; ${Math.round(r.ms)} ms`;
}

export function sweepTable(r: SweepResult): string {
  const rows = [['nth', 'result', 'errno', 'injected']];
  for (const s of r.steps) {
    rows.push([String(s.nth), s.ret === 0 ? 'ok' : 'failed', s.errno ?? '-', s.injected ? 'yes' : 'no']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => '  ' + row.map((cell, i) => (i === 0 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd());
  return [`${r.harness} — ${r.summary} (${r.syscall})`, ...lines, summaryLine(r)].join('\n');
}

export function totalsLine(results: SweepResult[], ms: number): string {
  const sum = results.map(counts).reduce((a, c) => ({ points: a.points + c.points, failed: a.failed + c.failed, absorbed: a.absorbed + c.absorbed }), { points: 0, failed: 0, absorbed: 0 });
  const incomplete = results.filter((r) => !r.complete).length;
  return `${results.length} harnesses swept: ${sum.points} failure points, ${sum.failed} failed the call, ${sum.absorbed} injected but succeeded${incomplete ? `, ${incomplete} stopped at max-steps` : ''}; ${(ms / 1000).toFixed(1)} s`;
}
