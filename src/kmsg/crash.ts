// A crash on the serial console: the oops or panic report of the step that took the guest down.
//   [    5.21] BUG: kernel NULL pointer dereference, address: 0000000000000000
//   [    5.21] Oops: Oops: 0000 [#1] SMP
//   [    5.21] CPU: 0 UID: 0 PID: 57 Comm: kf#2 Tainted: G           O       6.12.117 #1
//   [    5.21] RIP: 0010:oopsy+0x2a/0x90 [kfault_test]
//   ...
//   [    5.22] Kernel panic - not syncing: Fatal exception
import { parseFaultSites, type FaultSite } from './fault-trace.js';

const STAMP = /^\[\s*\d+\.\d+\]\s?/;
const START = /^(BUG: |Oops: |kernel BUG at |general protection fault|KASAN: |Kernel panic - |UBSAN: )/;

export interface ConsoleCrash {
  kind: 'oops' | 'panic';
  headline: string;
  /** the function the RIP line names, e.g. "oopsy+0x2a/0x90 [kfault_test]" */
  at: string | null;
  pid: number | null;
  comm: string | null;
  /** the report's lines, without timestamps */
  log: string[];
}

/** The first crash report in console lines, or null when there is none. */
export function parseConsoleCrash(lines: string[]): ConsoleCrash | null {
  const text = lines.map((l) => l.replace(STAMP, ''));
  const start = text.findIndex((l) => START.test(l));
  if (start < 0) return null;
  const panicAt = text.findIndex((l, i) => i >= start && /^Kernel panic - /.test(l));
  const log = text.slice(start, panicAt >= 0 ? panicAt + 1 : Math.min(text.length, start + 80));
  const who = log.map((l) => /\bPID: (\d+) Comm: (\S+)/.exec(l)).find(Boolean);
  const rip = log.map((l) => /^RIP: [0-9a-f]+:(.+?)\s*$/.exec(l)).find(Boolean);
  const oops = log.some((l) => /^(BUG: |Oops: |kernel BUG at |general protection fault)/.test(l));
  return {
    kind: oops ? 'oops' : 'panic',
    headline: text[start]!,
    at: rip?.[1] ?? null,
    pid: who ? Number(who[1]) : null,
    comm: who?.[2] ?? null,
    log,
  };
}

/** The step a sweep thread was running: its comm is "kf#<nth>" (see native/sweep.c). */
export function stepOfComm(comm: string | null): number | null {
  const m = /^kf#(\d+)$/.exec(comm ?? '');
  return m ? Number(m[1]) : null;
}

/** The injectors' own frames in a fault's stack dump, and the injector each names. */
const INJECTOR_FRAME: Array<[RegExp, string]> = [
  [/^should_failslab\b/, 'failslab'],
  [/^should_fail_alloc_page\b/, 'fail_page_alloc'],
  [/^should_fail_usercopy\b/, 'fail_usercopy'],
  [/^should_fail_futex\b/, 'fail_futex'],
];

/**
 * The fault injected in the step that crashed, from the console: the stack dump fault injection
 * printed for it before the crash report. The console shows the dump (CPU/Comm line, Call Trace)
 * but not the "FAULT_INJECTION: forcing a failure" line above it (below the console's loglevel),
 * so the dump is the last one before the report of the step's own thread (comm "kf#<nth>") that
 * runs through should_fail_ex. null when there is none (a __GFP_NOWARN fault logs no dump).
 */
export function faultBeforeCrash(lines: string[], comm: string): FaultSite | null {
  const text = lines.map((l) => l.replace(STAMP, ''));
  // The dump is the step's own (its comm names the step), so it counts wherever it is: before
  // the report when the console printed it at once, or in the kernel log the panic prints again
  // after the report (panic_print=32).
  const start = text.length;
  for (let i = start - 1; i >= 0; i--) {
    const who = /\bComm: (\S+)/.exec(text[i]!);
    if (!who || who[1] !== comm) continue;
    let end = i + 1;
    while (end < text.length && end !== start && !/^\s*<\/TASK>/.test(text[end]!)) end++;
    const block = text.slice(i, end + 1);
    if (!block.some((l) => /^\s*should_fail_ex\+/.test(l))) continue;
    const site = parseFaultSites(['FAULT_INJECTION: forcing a failure.', ...block].join('\n'))[0];
    if (!site) continue;
    const injector = INJECTOR_FRAME.find(([re]) => site.frames.some((f) => re.test(f)))?.[1] ?? 'unknown';
    return { ...site, injector };
  }
  return null;
}
