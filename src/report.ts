// Sweep results as text: a table per harness and a summary line.
import { kernelProblems } from './kmsg/problems.js';
import { leakSummary } from './attribution.js';
import { corruptionText, fsckSummary, isCorrupted } from './fsck.js';
import type { Leak } from './kmsg/kmemleak-report.js';
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
export type Verdict = 'failed' | 'tolerated' | 'absorbed' | 'end' | 'crashed';

export function verdict(s: Step, r: Pick<SweepResult, 'kmemleakFilter'>): Verdict {
  if (s.signal) return 'crashed';
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

/** What went wrong at a failure point, besides its errno. */
export interface Problem {
  nth: number | null;
  kind: 'leak' | 'oops' | 'panic' | 'warning' | 'hang' | 'signal' | 'kmemleak' | 'corrupted';
  text: string;
}

const KMEMLEAK_DIED = /kmemleak: (Kernel memory leak detector disabled|Memory pool empty)/;

function kindOf(headline: string): Problem['kind'] {
  return headline.startsWith('WARNING') ? 'warning' : 'oops';
}

/** Every problem of a sweep, by step: crashes, what the kernel logged in a step, and leaks. */
export function problems(r: SweepResult): Problem[] {
  const out: Problem[] = [];
  for (const c of r.crashes) out.push({ nth: c.nth, kind: c.kind, text: c.headline + (c.at ? ` at ${c.at}` : '') });
  for (const s of r.steps) for (const h of kernelProblems(s.kmsg)) out.push({ nth: s.nth, kind: kindOf(h), text: h });
  // the step in which kmemleak gave up: no leak check after it can be trusted
  for (const s of r.steps) for (const l of s.kmsg.split('\n')) if (KMEMLEAK_DIED.test(l)) out.push({ nth: s.nth, kind: 'kmemleak', text: l.trim() });
  for (const s of r.steps) if (s.signal) out.push({ nth: s.nth, kind: 'signal', text: `the harness was killed by ${s.signal} (in user space; the sweep went on in a new process)` });
  // e2fsck found the scratch disk damaged after the step (src/fsck.ts says what counts)
  for (const s of r.steps) for (const c of s.fsck ?? []) if (isCorrupted(c)) out.push({ nth: s.nth, kind: 'corrupted', text: corruptionText(c) });
  for (const s of r.steps) if (s.command?.timedOut) out.push({ nth: s.nth, kind: 'hang', text: `the program did not finish within ${s.command.timeoutMs} ms; it was killed` });
  const byStep = new Map<number | null, Leak[]>();
  for (const { nth, leak } of r.leaks) byStep.set(nth, [...(byStep.get(nth) ?? []), leak]);
  for (const [nth, leaks] of byStep) out.push({ nth, kind: 'leak', text: leakSummary(leaks) });
  return out.sort((a, b) => (a.nth ?? 0) - (b.nth ?? 0));
}

export function problemCounts(r: SweepResult): string {
  const p = problems(r);
  if (!p.length) return '';
  const kinds = ['leak', 'oops', 'panic', 'warning', 'hang', 'signal', 'kmemleak', 'corrupted'] as const;
  return '; problems: ' + kinds.flatMap((k) => {
    const n = p.filter((x) => x.kind === k).length;
    return n ? [`${n} ${k}${n === 1 || k === 'oops' || k === 'corrupted' ? '' : 's'}`] : [];
  }).join(', ');
}

export function summaryLine(r: SweepResult): string {
  const c = counts(r);
  const end = r.complete ? `ended at nth=${Math.max(0, ...r.steps.map((s) => s.nth))}` : `stopped at max-steps ${r.maxSteps} (more failure points remain)`;
  const killed = r.steps.filter((s) => s.signal).length;
  const crashed = (r.crashes.length ? `; ${r.crashes.length} crashed the guest` : '') + (killed ? `; ${killed} killed the harness` : '');
  return `${r.harness}: ${c.points + r.crashes.length + killed} failure points: ${c.failed} failed, ${c.tolerated} tolerated, ${c.absorbed} absorbed${crashed}${problemCounts(r)}; ${end}; ${Math.round(r.ms)} ms`;
}

export function site(s: Step): string {
  if (!s.fault) return s.injected ? '(no call site: neither logged nor traced)' : '';
  const tags = [s.fault.inKmemleak ? ' [kmemleak]' : '', s.fault.from === 'tracepoint' ? ' [nowarn]' : ''].join('');
  return [s.fault.callSite ?? '?', s.fault.caller].filter(Boolean).join(' <- ') + tags;
}

/** "exit 1: mkfifo: cannot create fifo 'f': No space left on device": how the program ended, and its last line. */
export function programCell(s: Step): string {
  const c = s.command;
  if (!c) return '';
  const end = c.timedOut ? 'killed at timeout' : c.signal ? c.signal : `exit ${c.exitCode}`;
  const last = c.output.trimEnd().split('\n').pop()!.trim();
  return last ? `${end}: ${last.length > 70 ? `${last.slice(0, 67)}...` : last}` : end;
}

export function outcome(p: Problem[]): string {
  return p.length ? p.map((x) => `${x.kind}: ${x.text}`).join('; ') : 'ok';
}

/** "pipe2 nth=7  alloc_pipe_info+0x4f <- create_pipe_files  ENOMEM  leak: 1 object, ..." */
export function problemLines(r: SweepResult): string[] {
  return problems(r).map((p) => {
    const s = r.steps.find((x) => x.nth === p.nth);
    const c = r.crashes.find((x) => x.nth === p.nth);
    const where = p.nth === null ? 'setup/teardown' : `nth=${p.nth}`;
    const at = s ? site(s) || '-' : (c?.at ?? '-');
    return `${r.harness} ${where}  ${at}  ${s?.errno ?? '-'}  ${p.kind}: ${p.text}`;
  });
}

export function sweepTable(r: SweepResult): string {
  const all = problems(r);
  // a program's sweep: what the program did, after the call site
  const program = r.steps.some((s) => s.command);
  const rows = [['nth', 'verdict', 'errno', 'call site', ...(program ? ['program'] : []), 'result']];
  const nths = [...new Set([...r.steps.map((s) => s.nth), ...r.crashes.map((c) => c.nth)])].sort((a, b) => a - b);
  for (const nth of nths) {
    const s = r.steps.find((x) => x.nth === nth);
    const here = all.filter((p) => p.nth === nth);
    const did = program ? [s ? programCell(s) : '-'] : [];
    if (s) rows.push([String(nth), verdict(s, r), s.errno ?? '-', site(s), ...did, s.injected || here.length ? outcome(here) : '']);
    else rows.push([String(nth), 'crashed', '-', r.crashes.find((c) => c.nth === nth)?.at ?? '-', ...did, outcome(here)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => '  ' + row.map((cell, i) => (i === 0 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd());
  const outside = all.filter((p) => p.nth === null).map((p) => `  setup/teardown: ${p.kind}: ${p.text}`);
  const fsck = fsckSummary(r.steps);
  return [`${r.harness} — ${r.summary} (${r.syscall})`, ...lines, ...outside, `kmemleak filter: ${r.kmemleakFilter.note}`, ...(r.refillFilter ? [r.refillFilter] : []), ...(fsck ? [fsck] : []), summaryLine(r)].join('\n');
}
export function totalsLine(results: SweepResult[], ms: number): string {
  const sum = results.map(counts).reduce((a, c) => ({ points: a.points + c.points, failed: a.failed + c.failed, tolerated: a.tolerated + c.tolerated, absorbed: a.absorbed + c.absorbed }));
  const incomplete = results.filter((r) => !r.complete && r.mode !== 'random').length;
  const found = results.flatMap(problems).length;
  return `${results.length} harnesses swept: ${sum.points} failure points: ${sum.failed} failed, ${sum.tolerated} tolerated, ${sum.absorbed} absorbed${incomplete ? `; ${incomplete} stopped at max-steps` : ''}; ${found ? `${found} problems` : 'no problems'}; ${(ms / 1000).toFixed(1)} s`;
}

const RED = '\x1b[31m';
const GREEN = '\x1b[32m';
const RESET = '\x1b[0m';

/** Colours for a terminal: rows with a problem in red, "ok" in green. */
export function colorize(text: string): string {
  return text
    .split('\n')
    .map((l) => (/ (leak|oops|panic|warning|hang|signal|kmemleak|corrupted): /.test(l) ? `${RED}${l}${RESET}` : l.replace(/ ok$/, ` ${GREEN}ok${RESET}`)))
    .join('\n');
}

/** Random mode: the runs grouped by what happened (errno and where the fault struck). */
export function randomTable(r: SweepResult): string {
  const groups = new Map<string, { errno: string; site: string; runs: number; problems: number }>();
  const all = problems(r);
  for (const s of r.steps) {
    const errno = s.signal ?? s.errno ?? 'ok';
    const where = !s.injected ? '(nothing injected)' : s.fault?.callSite ? site(s) : '(a fault was logged, its trace not parsed)';
    const key = `${errno} ${where}`;
    const g = groups.get(key) ?? { errno, site: where, runs: 0, problems: 0 };
    g.runs++;
    g.problems += all.filter((p) => p.nth === s.nth).length;
    groups.set(key, g);
  }
  const rows = [['runs', 'errno', 'first fault struck at', 'problems']];
  for (const g of [...groups.values()].sort((a, b) => b.runs - a.runs)) rows.push([String(g.runs), g.errno, g.site, String(g.problems)]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => '  ' + row.map((c, i) => (i === 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd());
  const injected = r.steps.filter((s) => s.injected).length;
  const failed = r.steps.filter((s) => s.ret < 0).length;
  return [
    `${r.harness} — ${r.summary} (${r.syscall}), random mode: make-it-fail on the harness thread, task-filter, the injectors' probability`,
    ...lines,
    ...problemLines(r).map((l) => `  ${l}`),
    ...[fsckSummary(r.steps)].filter((l): l is string => !!l),
    `${r.harness}: ${r.steps.length} runs: ${injected} with a traced fault, ${failed} failed${problemCounts(r)}; ${Math.round(r.ms)} ms`,
  ].join('\n');
}
