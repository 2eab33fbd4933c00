// A saved console log or dmesg, from any machine: its oopses, panics, WARNINGs, KASAN and UBSAN
// reports, kmemleak records and fault-injection traces (kfault parse).
import { z } from 'zod';
import { faultBeforeCrash, parseConsoleCrash, stepOfComm } from './crash.js';
import { FaultSite } from './fault-site.js';
import { parseFaultSites } from './fault-trace.js';
import { Leak } from './leak.js';
import { parseKmemleakReport } from './kmemleak-report.js';
import { kernelProblems } from './problems.js';
import { LineFormat, logLines, type LogLine } from './log-lines.js';

export const PARSE_SCHEMA = 'kfault/parse@1';

const Who = {
  /** the task the report names (PID: N Comm: X) */
  pid: z.number().int().nullable(),
  comm: z.string().nullable(),
  /** a kfault sweep step: the comm is "kf#<nth>" */
  step: z.number().int().positive().nullable(),
};

export const LogProblem = z.strictObject({
  kind: z.enum(['oops', 'panic', 'warning', 'kasan', 'ubsan']),
  headline: z.string(),
  /** where: the RIP line's function (or a WARNING's own "at ... func+off/size") */
  at: z.string().nullable(),
  ...Who,
  /** 1-based line of the headline in the input */
  line: z.number().int().positive(),
  /** the input ends inside the report: what follows its last line is unknown */
  truncated: z.boolean(),
  /** the report ended in "Kernel panic - ..." (oops=panic, panic_on_warn): that line */
  panic: z.string().nullable(),
  /** the fault injected into this task just before, from its stack dump */
  fault: FaultSite.nullable(),
  /** the report's lines, without timestamps */
  log: z.array(z.string()),
});
export type LogProblem = z.infer<typeof LogProblem>;

export const LogFault = z.strictObject({
  ...Who,
  line: z.number().int().positive(),
  /** the "FAULT_INJECTION: forcing a failure" line was in the log (a console below its
   * loglevel shows only the stack dump) */
  announced: z.boolean(),
  site: FaultSite,
});
export type LogFault = z.infer<typeof LogFault>;

export const ParsedLog = z.strictObject({
  schema: z.literal(PARSE_SCHEMA),
  source: z.string(),
  lines: z.number().int().nonnegative(),
  formats: z.array(LineFormat),
  problems: z.array(LogProblem),
  faults: z.array(LogFault),
  /** kmemleak's records (a report from /sys/kernel/debug/kmemleak in the input) */
  leaks: z.array(Leak),
  /** what kmemleak itself logged ("kmemleak: 2 new suspected memory leaks ...") */
  kmemleak: z.array(z.string()),
});
export type ParsedLog = z.infer<typeof ParsedLog>;

type Kind = LogProblem['kind'];

function kindOf(headline: string): Kind {
  if (/^(BUG: )?KASAN: /.test(headline)) return 'kasan';
  if (headline.startsWith('WARNING: ')) return 'warning';
  if (headline.startsWith('UBSAN: ')) return 'ubsan';
  if (headline.startsWith('Kernel panic - ')) return 'panic';
  return 'oops';
}

const headlineOf = (text: string): string | null => kernelProblems(text)[0] ?? null;
const END_TRACE = /^-+\[ end trace [0-9a-f]+ \]-+/;
const END_PANIC = /^-+\[ end Kernel panic/;
const KASAN_RULE = /^={20,}$/;
/** a report longer than this is cut here (and not marked truncated: its end was just not found) */
const MAX_REPORT_LINES = 250;

/** Where a report ends: its end marker, or the next report, or the end of the input. */
function reportEnd(lines: LogLine[], start: number, kind: Kind): { end: number; truncated: boolean; panic: string | null } {
  let panic: string | null = kind === 'panic' ? lines[start]!.text : null;
  const stop = Math.min(lines.length, start + MAX_REPORT_LINES);
  for (let i = start + 1; i < stop; i++) {
    const t = lines[i]!.text;
    const h = headlineOf(t);
    if (kind === 'kasan' && KASAN_RULE.test(t)) return { end: i + 1, truncated: false, panic };
    if (h?.startsWith('Kernel panic - ') && !panic) {
      panic = h;
      continue;
    }
    if (END_PANIC.test(t)) return { end: i + 1, truncated: false, panic };
    // an oops's "Oops:" line follows its "BUG:" line; anything else starts the next report
    if (h && !(kind === 'oops' && h.startsWith('Oops: ')) && !(kind === 'kasan' && i - start < 3)) return { end: i, truncated: false, panic };
    if (END_TRACE.test(t) && kind !== 'oops' && kind !== 'kasan') return { end: i + 1, truncated: false, panic };
    // an oops goes on after its end trace (RIP and registers again, then the panic)
    if (END_TRACE.test(t) && !lines.slice(i + 1, i + 30).some((l) => /^Kernel panic - /.test(l.text))) return { end: i + 1, truncated: false, panic };
    if (panic && /^Kernel Offset: /.test(t) && !lines[i + 1]?.text.match(END_PANIC)) return { end: i + 1, truncated: false, panic };
  }
  return { end: stop, truncated: stop === lines.length, panic };
}

function whoOf(texts: string[]) {
  const m = texts.map((t) => /\bPID: (\d+) Comm: (\S+)/.exec(t)).find(Boolean);
  const comm = m?.[2] ?? null;
  // a WARNING whose dump stayed off the console still names the pid: "WARNING: CPU: 0 PID: 65 at"
  const pid = m?.[1] ?? /^WARNING: CPU: \d+ PID: (\d+) /.exec(texts[0] ?? '')?.[1];
  return { pid: pid ? Number(pid) : null, comm, step: stepOfComm(comm) };
}

type Stamped<T> = T & { stamp: string | null };

function problemsOf(lines: LogLine[]): Array<Stamped<LogProblem>> {
  const out: Array<Stamped<LogProblem>> = [];
  for (let i = 0; i < lines.length; i++) {
    const headline = headlineOf(lines[i]!.text);
    if (!headline) continue;
    const kind = kindOf(headline);
    const { end, truncated, panic } = reportEnd(lines, i, kind);
    const log = lines.slice(i, end).map((l) => l.text);
    const crash = parseConsoleCrash(log);
    const who = whoOf(log);
    // a WARNING names its function ("at FILE:LINE func+off/size"), KASAN too ("... in func+off/size")
    const named = / (?:at \S+:\d+|in) (\S+\+0x[0-9a-f]+\/0x[0-9a-f]+(?: \[\S+\])?)/.exec(headline)?.[1] ?? null;
    // the fault's dump comes shortly before the report, on the same task
    const before = lines.slice(Math.max(0, i - 200), i).map((l) => l.text);
    out.push({
      kind,
      headline,
      at: named ?? crash?.at ?? null,
      ...who,
      line: lines[i]!.n,
      truncated,
      panic: kind === 'panic' ? null : panic,
      fault: who.comm ? faultBeforeCrash(before, who.comm) : null,
      log,
      stamp: lines[i]!.stamp,
    });
    i = end - 1;
  }
  return out;
}

/** The stack dump of an injected fault: from its CPU/Comm line to the end of its call trace. */
function dumpEnd(lines: LogLine[], from: number): number {
  for (let j = from; j < Math.min(lines.length, from + 120); j++) {
    if (/^\s*<\/TASK>/.test(lines[j]!.text)) return j + 1;
    if (j > from && (headlineOf(lines[j]!.text) || lines[j]!.text.startsWith('FAULT_INJECTION: '))) return j;
  }
  return Math.min(lines.length, from + 120);
}

function faultsOf(lines: LogLine[]): Array<Stamped<LogFault>> {
  const out: Array<Stamped<LogFault>> = [];
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i]!.text;
    const announced = t.startsWith('FAULT_INJECTION: forcing a failure');
    if (!announced && !/^CPU: \d+ .*\bPID: \d+ Comm: /.test(t)) continue;
    const end = dumpEnd(lines, announced ? i + 1 : i);
    const block = lines.slice(i, end).map((l) => l.text);
    if (!block.some((l) => /^\s*should_fail_ex\+/.test(l))) continue;
    const site = parseFaultSites((announced ? block : ['FAULT_INJECTION: forcing a failure.', ...block]).join('\n'))[0];
    if (site) {
      const injector = site.injector !== 'unknown' ? site.injector : block.some((l) => /^\s*should_failslab\+/.test(l)) ? 'failslab' : block.some((l) => /^\s*should_fail_alloc_page\+/.test(l)) ? 'fail_page_alloc' : 'unknown';
      // the dump's CPU line has the same stamp in the console's copy and in a panic's replay
      const cpu = lines.slice(i, end).find((l) => /^CPU: \d+ /.test(l.text)) ?? lines[i]!;
      out.push({ ...whoOf(block), line: lines[i]!.n, announced, site: { ...site, injector }, stamp: cpu.stamp });
    }
    i = end - 1;
  }
  return out;
}

/** A panic prints the kernel log again (panic_print=32): the same record twice, the replay
 * often fuller (its first copy was kept off the console by the loglevel). One of each. */
function once<T extends { stamp: string | null; line: number }>(records: T[], key: (r: T) => string, size: (r: T) => number): T[] {
  const kept = new Map<string, T>();
  const out: T[] = [];
  for (const r of records) {
    if (r.stamp === null) {
      out.push(r);
      continue;
    }
    const k = `${r.stamp} ${key(r)}`;
    const seen = kept.get(k);
    if (!seen) {
      kept.set(k, r);
      out.push(r);
    } else if (size(r) > size(seen)) {
      out[out.indexOf(seen)] = r;
      kept.set(k, r);
    }
  }
  return out;
}

const strip = <T extends { stamp: string | null }>({ stamp: _, ...r }: T): Omit<T, 'stamp'> => r;

export function parseLog(text: string, source: string): ParsedLog {
  const lines = logLines(text);
  const problems = once(problemsOf(lines), (p) => p.headline, (p) => p.log.length + (p.fault ? 1 : 0));
  const faults = once(faultsOf(lines), (f) => `${f.pid} ${f.site.frames.join(' ')}`, (f) => (f.announced ? 1 : 0));
  const texts = lines.map((l) => l.text);
  const kmemleak = [...new Set(lines.filter((l) => /^kmemleak: /.test(l.text)).map((l) => l.text))];
  return ParsedLog.parse({
    schema: PARSE_SCHEMA,
    source,
    lines: text.split('\n').length - (text.endsWith('\n') ? 1 : 0),
    formats: LineFormat.options.filter((f) => lines.some((l) => l.format === f && l.text.trim())),
    problems: problems.map(strip),
    faults: faults.map(strip),
    leaks: parseKmemleakReport(texts.join('\n')),
    kmemleak,
  });
}

/** Nothing in it looks like a kernel's log: the wrong file, most likely. */
export function notAKernelLog(p: ParsedLog, text: string): string | null {
  if (text.includes('\0')) return 'it holds NUL bytes (a binary file)';
  if (p.problems.length || p.faults.length || p.leaks.length || p.formats.some((f) => f !== 'plain')) return null;
  if (/^(Linux version |Booting Linux|Command line: )/m.test(text)) return null;
  return 'no line has a dmesg timestamp ("[    1.234567] "), a /dev/kmsg prefix ("6,123,4567,-;") or a kernel report';
}
