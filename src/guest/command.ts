// kfault command, in the guest: a whole, unmodified program, traced with ptrace (native/command.c).
// Faults are armed only once the program's own execve has succeeded, never in a wrapper:
//  - random: make-it-fail=1 (inherited by its threads and children) with the injectors'
//    task-filter, probability and times, as failcmd.sh does, but set from outside on the program;
//  - sweep: fail-nth = 1, 2, ... written for the thread that makes the chosen call, at its entry,
//    read back at its exit; one run of the program per failure point.
// Each run has a fresh empty working directory, so what one run made does not change the next.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { errnoName } from '../errno.js';
import { parseFaultSites } from '../kmsg/fault-trace.js';
import { syscallOfFault } from '../kmsg/fault-syscall.js';
import { kernelProblems } from '../kmsg/problems.js';
import { loadBinding, type NativeCommandOptions, type NativeCommandRun } from '../native.js';
import type { CommandRequest, CommandResult, CommandTrace, ProgramRun, Request, Step } from '../protocol.js';
import { assertInGuest, withFaultSettings } from './faults.js';
import { INSTANCE, openStepTraces } from './fault-trace-events.js';
import { openKmsg } from './kmsg.js';

const INJECTORS = ['failslab', 'fail_page_alloc'] as const;

export const COMMAND_MODE_NOTE =
  'random injection, not a sweep: the program was started under ptrace and, once its own execve had succeeded, got make-it-fail=1 (inherited by its threads and children) with task-filter=Y, so faults strike only the program, never a wrapper';

export function commandSettings(r: Pick<CommandRequest, 'probability' | 'interval' | 'times'>): Record<string, string> {
  const s: Record<string, string> = {};
  for (const inj of INJECTORS) {
    Object.assign(s, {
      [`${inj}/task-filter`]: 'Y',
      [`${inj}/probability`]: String(r.probability),
      [`${inj}/interval`]: String(r.interval),
      [`${inj}/times`]: String(r.times),
      [`${inj}/space`]: '0',
      [`${inj}/ignore-gfp-wait`]: 'N',
      [`${inj}/verbose`]: '2',
      [`${inj}/verbose_ratelimit_interval_ms`]: '0',
    });
  }
  s['fail_page_alloc/min-order'] = '0';
  s['/proc/sys/kernel/printk'] = '5 7 1 7';
  return s;
}

/** A fresh, empty working directory for one run. */
function runDir(work: string): string {
  const dir = `${work}/command`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

function programRun(r: NativeCommandRun, timeoutMs: number): ProgramRun {
  return {
    started: r.started,
    execError: r.started ? null : r.execErrno ? errnoName(r.execErrno) : r.signal ? `killed by ${r.signal} before its execve` : 'unknown',
    exitCode: r.exitCode,
    signal: r.signal,
    timedOut: r.timedOut,
    timeoutMs,
    ms: r.ns / 1e6,
    pid: r.pid,
    threads: r.threads,
    output: r.output,
    outputBytes: r.outputBytes,
  };
}

function run(o: Omit<NativeCommandOptions, 'cwd'>, work: string): Promise<NativeCommandRun> {
  return loadBinding().commandRun({ ...o, cwd: runDir(work) });
}

/** A run and what the kernel logged during it. */
async function logged(fn: () => Promise<NativeCommandRun>): Promise<{ r: NativeCommandRun; kmsg: string }> {
  const log = openKmsg();
  try {
    const r = await fn();
    return { r, kmsg: log().join('\n') };
  } finally {
    log();
  }
}

/** Each fault dump names the task it struck ("CPU: 0 UID: 0 PID: 87 Comm: echo ..."), after its
 * FAULT_INJECTION line: the faults in order, each with its task's pid. */
function withTasks<T>(kmsg: string, faults: T[]): (T & { pid: number | null })[] {
  const pids: (number | null)[] = [];
  let open = false;
  for (const line of kmsg.split('\n')) {
    if (line.startsWith('FAULT_INJECTION: forcing a failure')) {
      if (open) pids.push(null);
      open = true;
      continue;
    }
    const m = open ? /^CPU: \d+ (?:UID: \d+ )?PID: (\d+) Comm: /.exec(line) : null;
    if (m) {
      pids.push(Number(m[1]));
      open = false;
    }
  }
  if (open) pids.push(null);
  return faults.map((f, i) => ({ ...f, pid: pids[i] ?? null }));
}

/** random mode: the program runs times, each run with make-it-fail set once it has exec'd. */
export async function runCommand(req: CommandRequest, work: string): Promise<CommandResult> {
  const settings = commandSettings(req);
  const runs: CommandResult['runs'] = [];
  await withFaultSettings(settings, async () => {
    for (let i = 1; i <= req.runs; i++) {
      // times is a budget the injections use up: give every run the same
      assertInGuest();
      for (const inj of INJECTORS) writeFileSync(`/sys/kernel/debug/${inj}/times`, String(req.times));
      const { r, kmsg } = await logged(() => run({ path: req.path, argv: req.argv, timeoutMs: req.timeoutMs, mode: 'random' }, work));
      runs.push({
        run: i,
        ...programRun(r, req.timeoutMs),
        faults: withTasks(kmsg, parseFaultSites(kmsg)).map((f) => ({ ...f, syscall: syscallOfFault(f.frames) })),
        problems: kernelProblems(kmsg),
        kmsg,
      });
    }
  });
  return { argv: req.argv, mode: COMMAND_MODE_NOTE, settings, runs };
}

/** One unarmed traced run: the program must work without faults, and it says which syscalls it makes. */
export async function traceCommand(req: Extract<Request, { type: 'commandTrace' }>, work: string): Promise<CommandTrace> {
  const r = await run({ path: req.path, argv: req.argv, timeoutMs: req.timeoutMs, mode: 'trace' }, work);
  return { run: programRun(r, req.timeoutMs), syscalls: r.syscalls.map((c) => ({ name: c.name, count: c.count })) };
}

const markerPath = `${INSTANCE}/trace_marker`;

/** Marks the start of step nth in the tracing instance (see fault-trace-events.ts); written
 * before the program starts, so never a fault point of the step. */
function markStep(nth: number): void {
  try {
    writeFileSync(markerPath, `kfault-step ${nth}\n`);
  } catch {
    /* no tracing in this kernel: steps have no tracepoint sites */
  }
}

/**
 * fail-nth = first, first+1, ... at the call-th call of req.syscall, one run of the program per
 * step, until a run where the call reached no failure point. Returns whether it got there.
 */
export async function sweepCommand(req: Extract<Request, { type: 'commandSweep' }>, work: string, onStep: (s: Step) => void): Promise<boolean> {
  const traces = openStepTraces();
  try {
    for (let nth = req.first; nth <= req.maxSteps; nth++) {
      if (req.skip.includes(nth)) continue;
      markStep(nth);
      const { r, kmsg } = await logged(() => run({ path: req.path, argv: req.argv, timeoutMs: req.timeoutMs, mode: 'nth', syscall: req.syscall, call: req.call, nth }, work));
      const traced = traces?.of(nth) ?? { text: '', site: null };
      const dumped = r.injected ? (parseFaultSites(kmsg)[0] ?? null) : null;
      const fault = r.injected ? (dumped ?? traced.site) : null;
      const failed = r.reached && r.ret < 0 && r.ret >= -4095;
      onStep({
        nth,
        ret: failed ? r.ret : 0,
        errno: failed ? errnoName(r.ret) : null,
        injected: r.injected,
        tid: r.tid || r.pid,
        signal: null,
        ns: r.ns,
        kmsg,
        fault,
        trace: fault && !dumped ? traced.text : '',
        command: { ...programRun(r, req.timeoutMs), syscall: req.syscall, call: req.call, reached: r.reached, ret: r.ret },
      });
      if (!r.injected) return true;
    }
    return false;
  } finally {
    traces?.close();
  }
}
