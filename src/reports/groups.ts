// One problem per bug: the problems of one or more sweeps grouped by signature, as syzkaller
// dedups its crashes. A leak's signature is its allocation stack (from the allocation site down
// the backtrace kmemleak recorded, function names only); an oops, BUG, WARNING, KASAN or UBSAN
// report's is its title, with what changes from run to run taken out (PIDs, CPU numbers,
// addresses, offsets, the kf#<nth> comm); a crash's is its headline and the function it happened
// in. Each group says how often it was hit, at which steps, and where the injected faults struck.
import { z } from 'zod';
import { leakSummary } from '../attribution.js';
import { functionOf, isAllocatorFrame } from '../kmsg/fault-trace.js';
import type { Leak } from '../kmsg/kmemleak-report.js';
import type { SweepResult } from '../protocol.js';
import { problems, type Problem } from '../report.js';
import type { Reproducer, ResultsProblem } from '../repro/problems.js';

export const ProblemGroup = z.strictObject({
  /** what the grouping compares: the kind and the normalized title or allocation stack */
  signature: z.string(),
  kind: z.enum(['leak', 'oops', 'panic', 'warning', 'hang', 'signal', 'kmemleak', 'corrupted']),
  /** syzkaller style: "memory leak in kfault_test_alloc", "WARNING in warny" */
  title: z.string(),
  /** how many failure points (or setups/teardowns) hit it */
  count: z.number().int().positive(),
  /** the smallest nth that hit it; null when only a setup or teardown did */
  firstNth: z.number().int().positive().nullable(),
  /** every nth that hit it, in every harness, ascending, without repeats */
  nths: z.array(z.number().int().positive()),
  /** the nths, compacted: "3, 6" or "12-386" */
  range: z.string(),
  /** the injected faults' call sites (fault.callSite) of those steps, without repeats */
  sites: z.array(z.string()),
  harnesses: z.array(z.string()),
  /** each hit: nth null for a harness's setup or teardown; text in the report's words */
  occurrences: z.array(z.strictObject({ harness: z.string(), nth: z.number().int().positive().nullable(), text: z.string() })),
});
export type ProblemGroup = z.infer<typeof ProblemGroup>;

/** What varies between two runs of the same bug, taken out of a title. */
export function normalizeTitle(s: string): string {
  return s
    .replace(/^\[\s*\d+\.\d+\]\s*/, '')
    .replace(/\bCPU: \d+\s*/g, '')
    .replace(/\b(UID|PID): \d+\s*/g, '')
    .replace(/\bComm: \S+\s*/g, '')
    .replace(/\bkf#\d+/g, 'kf#N')
    .replace(/\[#\d+\]/g, '')
    .replace(/([\w.$])\+0x[0-9a-f]+(\/0x[0-9a-f]+)?/g, '$1')
    .replace(/ \[[\w-]+\]/g, '')
    .replace(/\b0x[0-9a-f]+\b/g, 'ADDR')
    .replace(/\b[0-9a-f]{8,}\b/g, 'ADDR')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Frames the kernel's reporting machinery adds before the function that went wrong. */
const REPORTING = /^(dump_stack\w*|show_stack|__warn|warn_slowpath\w*|report_bug|handle_bug|exc_\w+|asm_exc_\w+|__might_\w+|might_\w+|__schedule_bug|kasan_\w+|__kasan_\w+|__asan_\w+|print_report|ubsan_\w+|__ubsan_\w+|panic|die|oops_\w+|__die\w*|page_fault_oops|kernelmode_fixup_or_oops|__bad_area\w*|bad_area\w*|do_user_addr_fault|no_context|lockdep_\w+|__lock_acquire|lock_acquire|print_\w+|check_\w+_usage|mark_lock\w*)$/;

/** The function a report in a log is about: its kernel-mode RIP, else the first frame of its
 * call trace past the reporting machinery. */
function reportFunction(lines: string[]): string | null {
  for (const l of lines) {
    const rip = /^RIP: 0010:([\w.$]+\+0x[0-9a-f]+\/0x[0-9a-f]+)/.exec(l.trim());
    if (rip) return functionOf(rip[1]!);
  }
  const trace = lines.findIndex((l) => l.trim() === 'Call Trace:');
  if (trace < 0) return null;
  for (const l of lines.slice(trace + 1)) {
    const t = l.trim();
    if (/^<\/(TASK|IRQ)>/.test(t)) break;
    const m = /^([\w.$]+)\+0x[0-9a-f]+\/0x[0-9a-f]+/.exec(t);
    if (!m) continue; // "? frame" (unreliable) and <TASK> markers
    const f = functionOf(m[1]!);
    if (!REPORTING.test(f)) return f;
  }
  return null;
}

const inFn = (base: string, fn: string | null) => (fn ? `${base} in ${fn}` : base);

/** A syzkaller-style title for a kernel report: its headline, the function it names (at, or
 * the report's own lines), and what follows the headline in the log. */
export function reportTitle(headline: string, at: string | null, log: string[]): string {
  const h = headline.replace(/^\[\s*\d+\.\d+\]\s*/, '').trim();
  const fn = at ? functionOf(at) : reportFunction(log);
  const warn = /^WARNING: (?:CPU: \d+ PID: \d+ )?at \S+ ([\w.$]+)\+0x/.exec(h);
  if (warn) return `WARNING in ${functionOf(warn[1]!)}`;
  const kasan = /^(?:BUG: )?KASAN: ([\w-]+) in ([\w.$]+)\+0x/.exec(h);
  if (kasan) {
    const access = log.map((l) => /^(Read|Write) of size \d+/.exec(l.trim())?.[1]).find(Boolean);
    return `KASAN: ${kasan[1]}${access ? ` ${access}` : ''} in ${functionOf(kasan[2]!)}`;
  }
  const ubsan = /^UBSAN: ([\w-]+) in (\S+)/.exec(h);
  if (ubsan) return `UBSAN: ${ubsan[1]} in ${fn ?? ubsan[2]!.replace(/:\d+$/, '')}`;
  const kbug = /^kernel BUG at (\S+?)!?$/.exec(h);
  if (kbug) return fn ? `kernel BUG in ${fn}` : `kernel BUG at ${kbug[1]}`;
  if (/^general protection fault/.test(h)) return inFn('general protection fault', fn);
  const panic = /^Kernel panic - not syncing: (.*)$/.exec(h);
  if (panic) return `kernel panic: ${normalizeTitle(panic[1]!)}`;
  const bug = /^(BUG|Oops): (.*)$/.exec(h);
  if (bug) {
    // the description up to its details: ", address: ...", " at mm/x.c:12", ": kf#3/62/0x2"
    const what = bug[2]!.split(/,| at | for address|: | in process /)[0]!.trim();
    return inFn(normalizeTitle(`${bug[1]}: ${what}`), fn);
  }
  const warnOther = /^WARNING: (.*)$/.exec(h);
  if (warnOther) return inFn(normalizeTitle(`WARNING: ${warnOther[1]}`), fn);
  return inFn(normalizeTitle(h), fn);
}

/** A leak's allocation stack: the allocation site and every frame below it, offsets dropped. */
export function allocationStack(leak: Leak): string[] {
  const fns = leak.frames.map(functionOf);
  const i = fns.findIndex((f) => !isAllocatorFrame(f));
  return i < 0 ? fns : fns.slice(i);
}

export function leakSignature(leak: Leak): string {
  return `leak|${allocationStack(leak).join(' <- ')}`;
}

export function leakTitle(leak: Leak): string {
  return `memory leak in ${allocationStack(leak)[0] ?? '(no backtrace)'}`;
}

/** "3, 6" or "1-3, 5": ascending nths as runs. */
export function compactNths(nths: number[]): string {
  const runs: string[] = [];
  for (let i = 0; i < nths.length; ) {
    let j = i;
    while (j + 1 < nths.length && nths[j + 1] === nths[j]! + 1) j++;
    runs.push(j === i ? String(nths[i]) : j === i + 1 ? `${nths[i]}, ${nths[j]}` : `${nths[i]}-${nths[j]}`);
    i = j + 1;
  }
  return runs.join(', ');
}

/** Ascending nths; null (a setup or teardown) after every step. */
export const byNth = (a: number | null, b: number | null) => (a === b ? 0 : a === null ? 1 : b === null ? -1 : a - b);

interface Hit {
  signature: string;
  kind: Problem['kind'];
  title: string;
  harness: string;
  nth: number | null;
  text: string;
  site: string | null;
}

/** Every problem of a sweep with its signature and title (leaks one per allocation stack and step). */
function hits(r: SweepResult): Hit[] {
  const out: Hit[] = [];
  // a step that crashed the guest never reported: its fault is the one its crash record read
  const siteOf = (nth: number | null) => r.steps.find((s) => s.nth === nth)?.fault?.callSite ?? r.crashes.find((c) => c.nth === nth)?.fault?.callSite ?? null;
  for (const p of problems(r)) {
    if (p.kind === 'leak') continue;
    let title: string;
    let signature: string;
    if (p.kind === 'hang' || p.kind === 'signal') {
      // nothing says where in the kernel: the same harness is as close as it gets
      const sig = p.kind === 'signal' ? (r.steps.find((s) => s.nth === p.nth)?.signal ?? 'a signal') : null;
      title = p.kind === 'hang' ? `hang in ${r.harness}` : `${sig} in ${r.harness} (user space)`;
      signature = `${p.kind}|${r.harness}|${sig ?? ''}`;
    } else if (p.kind === 'corrupted') {
      // what fsck found differs with the damage; where the fault struck is the bug
      const site = siteOf(p.nth);
      const fs = r.steps.find((s) => s.nth === p.nth)?.fsck?.find((c) => p.text.startsWith(`e2fsck -fn ${c.device}:`))?.fs ?? 'filesystem';
      title = `corrupted ${fs} after a fault in ${site ? functionOf(site) : r.harness}`;
      signature = `corrupted|${fs}|${site ? functionOf(site) : r.harness}`;
    } else if (p.kind === 'kmemleak') {
      title = normalizeTitle(p.text);
      signature = `kmemleak|${title}`;
    } else {
      const crash = r.crashes.find((c) => c.nth === p.nth && c.kind === p.kind);
      if (crash) title = reportTitle(crash.headline, crash.at, crash.log);
      else {
        const lines = (r.steps.find((s) => s.nth === p.nth)?.kmsg ?? '').split('\n');
        const start = lines.findIndex((l) => l.includes(p.text));
        const end = lines.findIndex((l, i) => i > start && /^---\[ end trace/.test(l));
        title = reportTitle(p.text, null, start < 0 ? [] : lines.slice(start, end < 0 ? start + 60 : end + 1));
      }
      signature = `${p.kind}|${title}`;
    }
    out.push({ signature, kind: p.kind, title, harness: r.harness, nth: p.nth, text: p.text, site: siteOf(p.nth) });
  }
  const leaks = new Map<string, { nth: number | null; leaks: Leak[] }>();
  for (const { nth, leak } of r.leaks) {
    const key = `${nth}|${leakSignature(leak)}`;
    const l = leaks.get(key) ?? { nth, leaks: [] };
    l.leaks.push(leak);
    leaks.set(key, l);
  }
  for (const { nth, leaks: ls } of leaks.values()) {
    out.push({ signature: leakSignature(ls[0]!), kind: 'leak', title: leakTitle(ls[0]!), harness: r.harness, nth, text: leakSummary(ls), site: siteOf(nth) });
  }
  return out.sort((a, b) => byNth(a.nth, b.nth));
}

/** The problems of one sweep, or of several (a batch), one group per signature, in the order
 * they were first hit. The same bug hit by two harnesses is one group. */
export function groupProblems(results: SweepResult | SweepResult[]): ProblemGroup[] {
  const groups = new Map<string, { first: Hit; hits: Hit[] }>();
  for (const r of Array.isArray(results) ? results : [results]) {
    for (const h of hits(r)) {
      const g = groups.get(h.signature) ?? { first: h, hits: [] };
      // one hit per step: two reports of one signature in one step (a WARN in a loop) are one
      if (!g.hits.some((x) => x.harness === h.harness && x.nth === h.nth)) g.hits.push(h);
      groups.set(h.signature, g);
    }
  }
  return [...groups.values()].map(({ first, hits: hs }) => {
    const nths = [...new Set(hs.flatMap((h) => (h.nth === null ? [] : [h.nth])))].sort((a, b) => a - b);
    return {
      signature: first.signature,
      kind: first.kind,
      title: first.title,
      count: hs.length,
      firstNth: nths[0] ?? null,
      nths,
      range: compactNths(nths),
      sites: [...new Set(hs.flatMap((h) => (h.site ? [h.site] : [])))],
      harnesses: [...new Set(hs.map((h) => h.harness))],
      occurrences: hs.map((h) => ({ harness: h.harness, nth: h.nth, text: h.text })),
    };
  });
}

/** "harness.c(leak2) nth=3, 6": where a group was hit, harness by harness. */
export function groupWhere(g: ProblemGroup): string {
  return g.harnesses
    .map((name) => {
      const here = g.occurrences.filter((o) => o.harness === name);
      const nths = here.flatMap((o) => (o.nth === null ? [] : [o.nth])).sort((a, b) => a - b);
      const parts = [...(nths.length ? [`nth=${compactNths(nths)}`] : []), ...(here.some((o) => o.nth === null) ? ['setup/teardown'] : [])];
      return `${name} ${parts.join(', ')}`;
    })
    .join('; ');
}

/** "kfault_test_alloc+0xe", or why there is none. */
export function sitesText(g: ProblemGroup): string {
  if (g.sites.length) return g.sites.join(', ');
  return g.kind === 'oops' || g.kind === 'panic' || g.kind === 'hang' ? 'none known (the step took the guest down)' : 'none traced';
}

/** One block per bug: its title, count, where it was hit (first nth, all nths), its fault
 * sites, and the first hit in the report's words. */
export function groupLines(groups: ProblemGroup[], problems: ResultsProblem[] = []): string[] {
  if (!groups.length) return [];
  const steps = groups.reduce((n, g) => n + g.count, 0);
  return [`problems: ${groups.length} distinct, hit ${steps} time${steps === 1 ? '' : 's'}:`, ...groupBlocks(groups, problems)];
}

/** The reproducer of a group's first hit: the results' problem of that harness, nth and kind. */
export function groupReproducer(g: ProblemGroup, problems: ResultsProblem[]): Reproducer | null {
  const first = g.occurrences.find((o) => o.nth === g.firstNth) ?? g.occurrences[0]!;
  return problems.find((p) => p.harness === first.harness && p.nth === first.nth && p.kind === g.kind)?.reproducer ?? null;
}

/** The blocks of groupLines, without its header line. With the results' problems, each block
 * names the reproducer of its first hit. */
export function groupBlocks(groups: ProblemGroup[], problems: ResultsProblem[] = []): string[] {
  const out: string[] = [];
  for (const g of groups) {
    const first = g.occurrences.find((o) => o.nth === g.firstNth) ?? g.occurrences[0]!;
    const repro = groupReproducer(g, problems);
    out.push(
      `  ${g.title}`,
      `    ${g.kind}, count ${g.count}: ${groupWhere(g)}${g.firstNth !== null && g.count > 1 ? ` (first nth=${g.firstNth})` : ''}`,
      `    fault sites: ${sitesText(g)}`,
      `    first: ${first.harness} ${first.nth === null ? 'setup/teardown' : `nth=${first.nth}`}: ${first.text}`,
      ...(repro ? [`    reproducer: ${repro.command}`] : []),
    );
  }
  return out;
}
