import { fsckSummary } from '../fsck.js';
// Function mode's table: one row per function the traced run reached, failed once in turn.
import { errnoName } from '../errno.js';
import { outcome, problemCounts, problems, site, verdict } from '../report.js';
import type { Step, SweepResult } from '../protocol.js';

/** "-22 (EINVAL)", "1", "0 (NULL)" */
export function retvalCell(s: Step): string {
  const f = s.function;
  if (!f) return '-';
  if (f.type === 'ERRNO' || (f.type === 'ERRNO_NULL' && f.retval !== 0)) return `${f.retval} (${errnoName(f.retval) ?? '?'})`;
  return f.retval === 0 && /NULL/.test(f.type) ? '0 (NULL)' : String(f.retval);
}

/** What the traced run reached and what it left out, in one line. */
export function traceLine(r: SweepResult): string {
  const t = r.functionTrace;
  if (!t) return '';
  const left = [t.syscallsLeftOut ? `${t.syscallsLeftOut} syscall entry points left out (failing a syscall at its entry runs no error path)` : '', t.refused.length ? `${t.refused.length} refused by kprobes (${t.refused.join(', ')})` : ''].filter(Boolean);
  return `traced run: ${t.functions.length} of ${t.injectable} injectable functions reached${left.length ? `; ${left.join('; ')}` : ''}`;
}

export function functionTable(r: SweepResult): string {
  const all = problems(r);
  const rows = [['step', 'function', 'type', 'retval', 'verdict', 'errno', 'fault site', 'result']];
  const nths = [...new Set([...r.steps.map((s) => s.nth), ...r.crashes.map((c) => c.nth)])].sort((a, b) => a - b);
  for (const nth of nths) {
    const s = r.steps.find((x) => x.nth === nth);
    const here = all.filter((p) => p.nth === nth);
    const fn = r.functionTrace?.functions[nth - 1];
    if (s) rows.push([String(nth), s.function?.name ?? fn?.name ?? '?', s.function?.type ?? fn?.type ?? '?', retvalCell(s), s.injected ? verdict(s, r) : 'not hit', s.errno ?? '-', site(s), s.injected || here.length ? outcome(here) : '']);
    else rows.push([String(nth), fn?.name ?? '?', fn?.type ?? '?', '-', 'crashed', '-', r.crashes.find((c) => c.nth === nth)?.at ?? '-', outcome(here)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => '  ' + row.map((cell, i) => (i === 0 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd());
  const outside = all.filter((p) => p.nth === null).map((p) => `  setup/teardown: ${p.kind}: ${p.text}`);
  const hit = r.steps.filter((s) => s.injected);
  const failed = hit.filter((s) => s.ret < 0).length;
  const summary = `${r.harness}: ${nths.length} functions failed in turn: ${failed} made the call fail, ${hit.length - failed} tolerated, ${r.steps.length - hit.length} not hit${r.crashes.length ? `; ${r.crashes.length} crashed the guest` : ''}${problemCounts(r)}; ${Math.round(r.ms)} ms`;
  return [`${r.harness} — ${r.summary} (${r.syscall}), function mode: each injectable function of its traced run failed once (fail_function)`, ...(nths.length ? lines : ['  (no injectable function reached)']), ...outside, traceLine(r), ...[fsckSummary(r.steps)].filter((l): l is string => !!l), summary].join('\n');
}
