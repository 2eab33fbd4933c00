// A booted kfault guest: typed requests to its agent, crash recovery, and a close() that always
// stops QEMU.
import type { ChildProcess } from 'node:child_process';
import type { Config } from '../config.js';
import type { Kernel } from '../kernel/build.js';
import { faultBeforeCrash, parseConsoleCrash, stepOfComm } from '../kmsg/crash.js';
import { parseKmemleakReport, type Leak } from '../kmsg/kmemleak-report.js';
import type { FaultsConfig } from '../fault-knobs.js';
import {
  ResultOf,
  SweepOptions,
  type BenchResult,
  type CommandResult,
  type CommandTrace,
  type Crash,
  type Harness,
  type KmemleakState,
  type Ready,
  type Request,
  type Step,
  type StepEvent,
  type StressResult,
  type SweepDone,
  type SweepDoneEvent,
  type ShellResult,
  type SweepResult,
  type GuestDisk,
} from '../protocol.js';
import type { AgentChannel } from './channel.js';
import type { TerminalPort } from './terminal-port.js';
import type { ConsoleLog } from './console.js';
import type { Accel } from './qemu.js';
import { guestCmdline } from './boot.js';
import { sweepSetup } from '../repro/setup.js';
import { parseCallSpec, resolveProgram } from '../command/program.js';
import { NO_RETURN } from './command-calls.js';
import { loadBinding } from '../native.js';

export class GuestError extends Error {
  constructor(message: string, readonly code: string, readonly details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'GuestError';
  }
}

/** One running QEMU and its agent. */
export interface Machine {
  child: ChildProcess;
  channel: AgentChannel;
  ready: Ready;
  /** the host end of the shell's virtio console, when booted with shellConsole */
  terminal?: TerminalPort;
}

interface GuestParts {
  machine: Machine;
  /** starts a fresh QEMU on the same kernel, accelerator and console log */
  restart: () => Promise<Machine>;
  accel: Accel;
  log: ConsoleLog;
  config: Config;
  notes: string[];
  kernel: Kernel;
}

/** A user's harness: a shared object built from their C file (see src/harness/compile.ts). */
export interface UserHarness {
  /** what reports call it, e.g. "kfault_test.c(leak)" */
  name: string;
  library: string;
  arg: string;
  /** the C file it was built from (recorded for `kfault repro`) */
  source?: string;
}

export interface SweepCall extends SweepOptions {
  /** systematic (default: config sweep.mode unless global): fail-nth 1, 2, ...; random:
   * iterations runs with make-it-fail on the harness thread and the injectors' probability */
  mode?: 'systematic' | 'random';
  iterations?: number;
  /** knobs over the mode's settings (default: config faults) */
  faults?: FaultsConfig;
  /** each step as soon as the guest reports it */
  onStep?: (step: Step) => void;
  /** steps not to run (known to crash the guest) */
  skip?: number[];
}

export interface SweepManyCall extends Omit<SweepCall, 'onStep'> {
  /** each step of harnesses[index] as soon as the guest reports it */
  onStep?: (index: number, step: Step) => void;
  /** the sweep of harnesses[index] begins (the one before it has ended) */
  onBegin?: (index: number) => void;
  /** it has ended: its result, final but for leaks */
  onEnd?: (index: number, result: SweepResult) => void;
}

interface SweepTargetSpec {
  name: string;
  user: UserHarness | null;
  builtin: Harness | undefined;
}

/** What the host knows of a sweep while it runs. */
interface SweepState {
  steps: Map<number, Step>;
  crashes: Crash[];
  start: number;
  /** the sweep's thread, from its last step */
  tid: number | null;
  done: SweepDone | null;
  /** a sweep of a sweeps request: its time in the guest (from the host, sweeps would seem to
   * take what the arrival of their events in bursts says) */
  ms?: number;
}

type SweepSteps = Pick<SweepResult, 'complete' | 'steps' | 'crashes' | 'ms' | 'kmemleakFilter' | 'refillFilter'>;

function stepsOf(st: SweepState, done: SweepDone): SweepSteps {
  return {
    complete: done.complete,
    steps: [...st.steps.values()].sort((a, b) => a.nth - b.nth),
    crashes: st.crashes.sort((a, b) => a.nth - b.nth),
    ms: st.ms ?? performance.now() - st.start,
    kmemleakFilter: done.kmemleakFilter,
    refillFilter: done.refillFilter,
  };
}

export interface KernelModule {
  path: string;
  params: string;
}

const MAX_CRASHES_PER_SWEEP = 20;
/** A program's run, at most, in a sweep (then it is killed and the step is a hang). */
const DEFAULT_RUN_TIMEOUT_MS = 20_000;
/** A program's sweep with no call named: the first call of this many distinct syscalls, at most. */
export const DEFAULT_MAX_CALLS = 64;

export interface CommandSweepCall {
  /** "pipe2" (its first call) or "ioctl:2" (its second); default: each distinct syscall's first call */
  call?: string;
  /** each run's time limit (default 20 s): then every task of the run is killed, a hang */
  timeoutMs?: number;
  /** with no call: how many distinct syscalls, at most (default 64) */
  maxCalls?: number;
  maxSteps?: number;
  kmemleakFilter?: boolean;
  faults?: FaultsConfig;
  /** each step as the guest reports it, with the label of the call being swept */
  onStep?: (label: string, step: Step) => void;
  /** steps not to run, by label (known to crash the guest) */
  skip?: Record<string, number[]>;
}

/** A program's sweep: its unarmed traced run, the calls swept, and one sweep result per call. */
export interface CommandSweep {
  argv: string[];
  /** the program as the guest ran it */
  path: string;
  trace: CommandTrace;
  calls: { syscall: string; call: number }[];
  /** the program's syscalls that were not swept, and why */
  notSwept: string[];
  results: SweepResult[];
}

export class Guest implements AsyncDisposable {
  readonly accel: Accel;
  readonly kernel: string;
  readonly catalogue: Harness[];
  readonly consoleLog: string;
  readonly notes: string[];
  /** how many times the guest was booted again after a crash or hang */
  restarts = 0;
  private machine: Machine;
  private exited!: Promise<void>;
  private closing?: Promise<void>;
  private modules: KernelModule[] = [];
  private lastSweepEnd = 0;
  /** the leaks kmemleak reported before the last kmemleakClear(), which later checks leave out */
  private knownLeaks = new Set<string>();

  constructor(private readonly p: GuestParts) {
    this.machine = p.machine;
    this.accel = p.accel;
    this.kernel = p.machine.ready.kernel;
    this.catalogue = p.machine.ready.harnesses;
    this.consoleLog = p.log.path;
    this.notes = p.notes;
    this.watch();
  }

  /** the scratch disks as the guest has them (devices, mount points); a guest booted again after
   * a crash has fresh ones at the same places */
  get disks(): GuestDisk[] {
    return this.machine.ready.disks;
  }

  /** QEMU's pid */
  get pid(): number {
    return this.machine.child.pid!;
  }

  /** Resolves when QEMU has exited and its console output is all in the log. */
  private watch(): void {
    const child = this.machine.child;
    this.exited = new Promise((res) => {
      if (child.exitCode !== null || child.signalCode !== null) res();
      else child.once('close', () => res());
    });
  }

  private async call<T extends keyof typeof ResultOf>(
    body: Omit<Extract<Request, { type: T }>, 'id'> & { type: T },
    timeoutMs = this.p.config.machine.requestTimeoutMs,
    onEvent?: (e: StepEvent | SweepDoneEvent) => void,
  ) {
    const reply = await this.machine.channel.request(body as Omit<Request, 'id'>, timeoutMs, onEvent).catch((e: Error & { code?: string }) => {
      // A message the host cannot read is no crash to recover from: the guest is killed (its
      // QEMU would never exit by itself) and the error ends the command with its reason.
      if (e.code === 'KFAULT_PROTOCOL') this.machine.child.kill('SIGKILL');
      const code = e.code === 'KFAULT_TIMEOUT' || e.code === 'KFAULT_PROTOCOL' ? e.code : 'KFAULT_GUEST_LOST';
      throw new GuestError(`${e.message}\nconsole log: ${this.p.log.path}\n--- last console lines ---\n${this.p.log.lastLines(20)}`, code);
    });
    if (!reply.ok) {
      const { code, message, ...details } = reply.error;
      throw new GuestError(message, code, details);
    }
    return ResultOf[body.type].parse(reply.result) as ReturnType<(typeof ResultOf)[T]['parse']>;
  }

  harnesses(): Promise<Harness[]> {
    return this.call({ type: 'harnesses' });
  }

  /** Loads kernel modules (built for this kernel) now and again after every restart. */
  async loadModules(modules: KernelModule[]): Promise<void> {
    await this.call({ type: 'modules', modules });
    this.modules.push(...modules.filter((m) => !this.modules.some((k) => k.path === m.path)));
  }

  /**
   * Sweeps a harness (the catalogue's, by name, or a user's) with fail-nth 1, 2, ... until
   * nothing is injected. A step that crashes the guest (an oops: kfault boots with oops=panic)
   * or hangs it (no step for machine.stepTimeoutMs) is recorded in crashes; the guest is booted
   * again and the sweep goes on at the next step. Steps arrive as they finish, so none is lost.
   */
  async sweep(harness: string | UserHarness, options: SweepCall = {}): Promise<SweepResult> {
    const { onStep, skip = [], ...rest } = options;
    const plan = this.sweepPlan(rest);
    const t = this.targetOf(harness);
    const r = await this.sweepSteps(t.name, skip, (first, skipped, onEvent) => this.call(plan.request(t, first, skipped), this.p.config.machine.stepTimeoutMs, onEvent), onStep);
    return plan.result(t, r);
  }

  /**
   * Sweeps each harness in turn, as sweep() does one (the same steps, crashes and results), in
   * one sweeps request to the agent: one round trip and one write and restore of the fault
   * settings for them all, not one per harness. After a crash or hang, the harness that was
   * running goes on as sweep() would, and the ones after it in a new request.
   */
  async sweepMany(harnesses: (string | UserHarness)[], options: SweepManyCall = {}): Promise<SweepResult[]> {
    const { onStep, onBegin, onEnd, skip = [], ...rest } = options;
    const plan = this.sweepPlan(rest);
    const targets = harnesses.map((h) => this.targetOf(h));
    const results: SweepResult[] = [];
    const end = (i: number, r: SweepSteps) => {
      results[i] = plan.result(targets[i]!, r);
      this.lastSweepEnd = Date.now();
      onEnd?.(i, results[i]!);
    };
    let next = 0;
    while (next < targets.length) {
      const from = next;
      const state = new Map<number, SweepState>();
      const begin = (i: number) => {
        state.set(i, { steps: new Map(), crashes: [], start: performance.now(), tid: null, done: null });
        onBegin?.(i);
      };
      const mark = this.p.log.mark();
      begin(from);
      let running = from;
      const request = {
        type: 'sweeps' as const,
        targets: targets.slice(from).map((t) => ({ harness: t.name, library: t.user?.library ?? null, arg: t.user?.arg ?? '', skip })),
        ...plan.common,
      };
      try {
        await this.call(request, this.p.config.machine.stepTimeoutMs, (e) => {
          const i = from + (e.index ?? 0);
          const st = state.get(i);
          if (i !== running || !st) return this.machine.channel.fail(Object.assign(new Error(`the guest agent sent an event of sweep ${i} while sweep ${running} ran`), { code: 'KFAULT_PROTOCOL' }));
          if (e.type === 'step') {
            st.steps.set(e.step.nth, e.step);
            st.tid = e.step.tid;
            onStep?.(i, e.step);
            return;
          }
          st.done = e.done;
          st.ms = e.ms;
          // the last one ends with the reply: the guest could still go down before it (restoring
          // the fault state), and that is the last sweep's crash, as with sweep()
          if (i === targets.length - 1) return;
          end(i, stepsOf(st, e.done));
          begin(++running);
        });
        const last = state.get(targets.length - 1);
        if (!last?.done) throw new GuestError(`the guest agent ended a sweeps request of ${targets.length - from} before its last sweep ended`, 'KFAULT_PROTOCOL');
        end(targets.length - 1, stepsOf(last, last.done));
        next = targets.length;
      } catch (e) {
        if (!(e instanceof GuestError) || (e.code !== 'KFAULT_GUEST_LOST' && e.code !== 'KFAULT_TIMEOUT')) throw e;
        const t = targets[running]!;
        const st = state.get(running)!;
        const first = await this.stepCrashed(e, t.name, skip, st, 1, mark);
        const r = await this.sweepSteps(t.name, skip, (f, skipped, onEvent) => this.call(plan.request(t, f, skipped), this.p.config.machine.stepTimeoutMs, onEvent), onStep && ((s) => onStep(running, s)), { ...st, done: null, ms: undefined, first });
        end(running, r);
        next = running + 1;
      }
    }
    return results;
  }

  private targetOf(harness: string | UserHarness): SweepTargetSpec {
    const user = typeof harness === 'string' ? null : harness;
    const name = user ? user.name : (harness as string);
    return { name, user, builtin: this.catalogue.find((h) => h.name === name) };
  }

  /** A sweep's mode, options and settings, as every request of it carries them, and its result. */
  private sweepPlan(options: Omit<SweepCall, 'onStep' | 'skip'>) {
    const cfg = this.p.config.sweep;
    const { mode = cfg.mode === 'random' ? 'random' : 'systematic', iterations = cfg.iterations, faults = this.p.config.faults, ...rest } = options;
    const random = mode === 'random';
    const o = SweepOptions.parse({ maxSteps: random ? iterations : cfg.maxSteps, kmemleakFilter: cfg.kmemleakFilter, ...rest });
    const text = this.p.kernel.kmemleakText;
    const common = {
      maxSteps: o.maxSteps,
      random,
      faults,
      kmemleakText: o.kmemleakFilter ? text.range : null,
      kmemleakTextWhy: o.kmemleakFilter ? text.why : 'turned off (kmemleakFilter: false)',
    };
    const request = (t: SweepTargetSpec, first: number, skipped: number[]) => ({
      type: 'sweep' as const,
      harness: t.name,
      library: t.user?.library ?? null,
      arg: t.user?.arg ?? '',
      first,
      skip: skipped,
      ...common,
    });
    const result = (t: SweepTargetSpec, r: SweepSteps): SweepResult => ({
      harness: t.name,
      library: t.user?.library ?? null,
      arg: t.user?.arg ?? null,
      syscall: t.builtin?.syscall ?? 'kfault_run',
      summary: t.builtin?.summary ?? `a user's harness (${t.user?.library})`,
      maxSteps: o.maxSteps,
      mode,
      complete: r.complete,
      steps: r.steps,
      crashes: r.crashes,
      ms: r.ms,
      kmemleakFilter: r.kmemleakFilter,
      refillFilter: r.refillFilter,
      leaks: [],
      setup: sweepSetup({ faults, kmemleakFilter: o.kmemleakFilter, kmemleakText: text, systemMap: this.p.kernel.systemMap, source: t.user?.source, cmdline: guestCmdline(this.p.config) }),
    });
    return { common, request, result };
  }

  /**
   * The steps of one sweep, whatever is swept: send() asks the agent for the steps from first
   * on. A step that crashes the guest or hangs it is recorded in crashes; the guest is booted
   * again and the sweep goes on at the next step.
   */
  private async sweepSteps(
    name: string,
    skip: number[],
    send: (first: number, skip: number[], onEvent: (e: StepEvent | SweepDoneEvent) => void) => Promise<SweepDone>,
    onStep?: (step: Step) => void,
    resume?: SweepState & { first: number },
  ): Promise<SweepSteps> {
    const st: SweepState = resume ?? { steps: new Map(), crashes: [], start: performance.now(), tid: null, done: null };
    let first = resume?.first ?? 1;
    for (;;) {
      const mark = this.p.log.mark();
      try {
        const done = await send(first, [...skip, ...st.crashes.map((c) => c.nth)], (e) => {
          if (e.type !== 'step') return; // a single sweep's request ends with its reply
          st.steps.set(e.step.nth, e.step);
          st.tid = e.step.tid;
          onStep?.(e.step);
        });
        this.lastSweepEnd = Date.now();
        return stepsOf(st, done);
      } catch (e) {
        if (!(e instanceof GuestError) || (e.code !== 'KFAULT_GUEST_LOST' && e.code !== 'KFAULT_TIMEOUT')) throw e;
        first = await this.stepCrashed(e, name, skip, st, first, mark);
      }
    }
  }

  /** The guest went down or hung during a sweep that asked for steps from first on: the crash
   * recorded (a fresh guest up), and the step to go on from. */
  private async stepCrashed(e: GuestError, name: string, skip: number[], st: SweepState, first: number, mark: number): Promise<number> {
    const last = Math.max(first - 1, ...st.steps.keys());
    // the step that was running: the first after the last one that finished, skips skipped
    const skipped = new Set([...skip, ...st.crashes.map((c) => c.nth)]);
    let running = last + 1;
    while (skipped.has(running)) running++;
    const crash = await this.recover(e.code === 'KFAULT_TIMEOUT', mark, running, st.tid);
    st.crashes.push(crash);
    if (st.crashes.length > MAX_CRASHES_PER_SWEEP) {
      throw new GuestError(`${name}: more than ${MAX_CRASHES_PER_SWEEP} steps crashed the guest; giving up (console log: ${this.p.log.path})`, 'KFAULT_TOO_MANY_CRASHES');
    }
    return last + 1;
  }

  /** After the guest died (or hung and was killed): what happened, then a fresh guest. */
  private async recover(hung: boolean, mark: number, next: number, tid: number | null): Promise<Crash> {
    if (hung) this.machine.child.kill('SIGKILL');
    // the channel went down: a crashed guest exits (oops=panic, -no-reboot); one that does not
    // within a grace period (its agent died, say) is killed, never waited for forever
    const grace = setTimeout(() => this.machine.child.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(grace);
    const lines = this.p.log.since(mark);
    const report = hung ? null : parseConsoleCrash(lines);
    const nth = stepOfComm(report?.comm ?? null);
    if (report && nth === null && /^kf-(setup|teardown)$/.test(report.comm ?? '')) {
      await this.restartMachine();
      throw new GuestError(`the harness crashed the kernel outside the sweep (${report.comm}): ${report.headline}\nconsole log: ${this.p.log.path}`, 'KFAULT_HARNESS_CRASHED');
    }
    const crash: Crash = {
      nth: nth ?? next,
      kind: hung ? 'hang' : (report?.kind ?? 'panic'),
      headline: hung
        ? `no step finished within ${this.p.config.machine.stepTimeoutMs} ms; QEMU was killed`
        : report
          ? report.headline + (nth === null && report.comm ? ` (in ${report.comm}, pid ${report.pid}; sweep thread ${tid ?? '?'})` : '')
          : 'the guest went down with no crash report on the console',
      at: report?.at ?? null,
      log: report?.log ?? lines.slice(-20),
      consoleLog: this.p.log.path,
      fault: report?.comm ? faultBeforeCrash(lines, report.comm) : null,
    };
    await this.restartMachine();
    return crash;
  }

  private async restartMachine(): Promise<void> {
    this.machine.channel.close();
    this.machine.terminal?.close();
    this.machine = await this.p.restart();
    this.restarts++;
    this.knownLeaks = new Set(); // a fresh kernel: none of the old addresses means anything
    this.watch();
    if (this.modules.length) await this.call({ type: 'modules', modules: this.modules });
  }

  /**
   * A whole program under random injection, runs times. It starts under ptrace; once its own
   * execve has succeeded it gets make-it-fail (inherited by its threads and children) with the
   * injectors' task-filter, so faults strike the program only, never a wrapper.
   */
  command(argv: string[], o: { runs?: number; probability?: number; interval?: number; times?: number; timeoutMs?: number } = {}): Promise<CommandResult> {
    const req = { runs: 10, probability: 100, interval: 1, times: 1, timeoutMs: 30_000, ...o };
    return this.call({ type: 'command', path: resolveProgram(argv[0] ?? ''), argv, ...req }, req.runs * (req.timeoutMs + 5_000) + 60_000);
  }

  /** One unarmed traced run of a program: did it work, and which syscalls did it make. */
  traceCommand(argv: string[], o: { timeoutMs?: number } = {}): Promise<CommandTrace> {
    const timeoutMs = o.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
    return this.call({ type: 'commandTrace', path: resolveProgram(argv[0] ?? ''), argv, timeoutMs }, timeoutMs + 60_000);
  }

  /**
   * Sweeps an unmodified program: fail-nth 1, 2, ... on the thread that makes the call-th call
   * of a syscall, one run of the program per failure point, until a run where the call reaches
   * none. With no call: the first call of each distinct syscall the program makes (in the order
   * of first use, up to maxCalls; not those that never return: exit, exit_group, execve...).
   * One SweepResult per call swept; crashes and hangs of the guest are recovered from as for
   * harnesses. The program must succeed unarmed (a traced run comes first).
   */
  async sweepCommand(argv: string[], o: CommandSweepCall = {}): Promise<CommandSweep> {
    const path = resolveProgram(argv[0] ?? '');
    const timeoutMs = o.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
    const chosen = o.call === undefined ? null : parseCallSpec(o.call, loadBinding().syscallNames());
    const trace = await this.traceCommand(argv, { timeoutMs });
    const what = argv.join(' ');
    if (!trace.run.started) throw new GuestError(`${what}: the program did not start: execve: ${trace.run.execError}`, 'KFAULT_COMMAND_NOT_STARTED');
    if (trace.run.timedOut || trace.run.signal || trace.run.exitCode !== 0) {
      const end = trace.run.timedOut ? `did not finish within ${timeoutMs} ms` : trace.run.signal ? `was killed by ${trace.run.signal}` : `exited with ${trace.run.exitCode}`;
      throw new GuestError(`${what}: with no fault injected the program ${end}; a sweep needs a program that succeeds unarmed. Its output:\n${trace.run.output}`, 'KFAULT_COMMAND_FAILS');
    }
    const made = (name: string) => trace.syscalls.find((c) => c.name === name)?.count ?? 0;
    if (chosen && made(chosen.syscall) < chosen.call) {
      const calls = trace.syscalls.map((c) => `${c.name} x${c.count}`).join(', ');
      throw new GuestError(`${what}: the program made ${made(chosen.syscall)} ${chosen.syscall} call(s), so there is no call ${chosen.call} to sweep; its syscalls: ${calls}`, 'KFAULT_COMMAND_NO_CALL');
    }
    const maxCalls = o.maxCalls ?? DEFAULT_MAX_CALLS;
    const candidates = chosen ? [chosen] : trace.syscalls.filter((c) => !NO_RETURN.has(c.name)).map((c) => ({ syscall: c.name, call: 1 }));
    const calls = candidates.slice(0, maxCalls);
    const notSwept = [
      ...(chosen ? [] : trace.syscalls.filter((c) => NO_RETURN.has(c.name)).map((c) => `${c.name}: never returns to the program (no syscall exit to read fail-nth at)`)),
      ...candidates.slice(maxCalls).map((c) => `${c.syscall}: beyond maxCalls (${maxCalls})`),
    ];
    const cfg = this.p.config.sweep;
    const maxSteps = o.maxSteps ?? cfg.maxSteps;
    const kmemleakFilter = o.kmemleakFilter ?? cfg.kmemleakFilter;
    const faults = o.faults ?? this.p.config.faults;
    const text = this.p.kernel.kmemleakText;
    const results: SweepResult[] = [];
    for (const c of calls) {
      const label = `${what}: ${c.syscall}${c.call > 1 ? `:${c.call}` : ''}`;
      const request = (first: number, skip: number[]) => ({
        type: 'commandSweep' as const,
        path,
        argv,
        timeoutMs,
        syscall: c.syscall,
        call: c.call,
        first,
        maxSteps,
        skip,
        faults,
        kmemleakText: kmemleakFilter ? text.range : null,
        kmemleakTextWhy: kmemleakFilter ? text.why : 'turned off (kmemleakFilter: false)',
      });
      // a step is a whole run of the program: the host waits for it as long as the run may take
      const stepTimeout = Math.max(this.p.config.machine.stepTimeoutMs, timeoutMs + 30_000);
      const r = await this.sweepSteps(label, o.skip?.[label] ?? [], (first, skip, onEvent) => this.call(request(first, skip), stepTimeout, onEvent), o.onStep && ((s) => o.onStep!(label, s)));
      results.push({
        harness: label,
        library: null,
        arg: null,
        syscall: c.syscall,
        summary: `${c.call === 1 ? 'the first' : `call ${c.call} of the`} ${c.syscall} call${c.call === 1 ? '' : 's'} of ${path}, armed on its thread under ptrace`,
        maxSteps,
        mode: 'systematic',
        ...r,
        leaks: [],
        setup: null,
      });
    }
    return { argv, path, trace, calls, notSwept, results };
  }

  /**
   * kfault shell: a program in the guest (cwd: the host's, as the guest sees it). With tty, on
   * the virtio console (see terminal), else its output comes back in the result (base64).
   */
  shell(argv: string[], o: { cwd: string; env?: Record<string, string>; tty?: { rows: number; cols: number } | null; timeoutMs: number }): Promise<ShellResult> {
    return this.call({ type: 'shell', argv, cwd: o.cwd, env: o.env ?? {}, tty: o.tty ?? null, timeoutMs: o.timeoutMs }, o.timeoutMs + 30_000);
  }

  /** The host end of the shell's virtio console (boot with shellConsole); lost with a restart. */
  get terminal(): TerminalPort | undefined {
    return this.machine.terminal;
  }

  /** Global random injection (failslab + fail_page_alloc, probability 100) while a harness loops. */
  stress(harness: string, seconds: number, faults: FaultsConfig = this.p.config.faults): Promise<StressResult> {
    return this.call({ type: 'stress', harness, seconds, faults }, (seconds + 120) * 1000);
  }

  /** Every fault-injection attribute of the guest and its value (snapshot), or only which exist. */
  async faultState(action: 'snapshot' | 'capabilities' = 'snapshot'): Promise<Record<string, string>> {
    return (await this.call({ type: 'faults', action })).state;
  }

  /** Changes every attribute that takes a plain value, restores the snapshot, compares. */
  faultRoundTrip(): Promise<{ attributes: number; changed: number; mismatches: string[] }> {
    return this.call({ type: 'faults', action: 'roundtrip' });
  }

  /**
   * Runs a benchmark program in the guest (see bench/), with cwd the agent's work dir; with
   * sweepSettings, under the fault settings a sweep uses (kmemleak filter included). argv null
   * runs nothing: the reply still says when the agent got where during its boot.
   */
  bench(argv: string[] | null, o: { sweepSettings?: boolean; kmemleakFilter?: boolean; timeoutMs?: number } = {}): Promise<BenchResult> {
    const { sweepSettings = false, kmemleakFilter = this.p.config.sweep.kmemleakFilter, timeoutMs = 300_000 } = o;
    const text = this.p.kernel.kmemleakText;
    return this.call(
      {
        type: 'bench',
        argv,
        sweepSettings,
        kmemleakText: kmemleakFilter ? text.range : null,
        kmemleakTextWhy: kmemleakFilter ? text.why : 'turned off (kmemleakFilter: false)',
        timeoutMs,
      },
      timeoutMs + 60_000,
    );
  }

  /**
   * Forgets the objects kmemleak reports now, so a later check sees only new leaks. Not with
   * kmemleak's own `clear`: that paints reported objects grey, and kmemleak scans grey objects
   * for ever, so an old leak's stale contents can hide a new one (bench: leak-detection). The
   * old leaks stay unreferenced and unscanned; kfault leaves them out of later reports.
   */
  async kmemleakClear(): Promise<KmemleakState> {
    const now = await this.call({ type: 'kmemleak', action: 'report' });
    for (const l of now.leaks) this.knownLeaks.add(leakKey(l));
    return { ...now, leaks: [], raw: '' };
  }

  /**
   * kmemleak's leaks since the guest started or kmemleakClear(): one scan (it records each
   * object's checksum), a wait until the last sweep's objects are older than kmemleak's
   * minimum age (5 s in 6.12), a second scan, and the report. Scans leave task stacks out: a
   * stack keeps stale pointers of calls that returned long ago, which would hide the leaks of
   * error paths. One such check per batch of sweeps, never per step.
   */
  async kmemleakCheck(): Promise<KmemleakState> {
    const first = await this.call({ type: 'kmemleak', action: 'scan' });
    if (!first.enabled) return first;
    const wait = this.lastSweepEnd + 5_500 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const second = await this.call({ type: 'kmemleak', action: 'scan' });
    if (!second.enabled) return second;
    const report = await this.call({ type: 'kmemleak', action: 'report' });
    return withoutKnownLeaks(report, this.knownLeaks);
  }

  /** Asks the agent to stop, then makes sure QEMU is gone. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.call({ type: 'shutdown' }, 10_000).catch(() => {});
      // Closing our end unblocks the agent's pending read of the port (it sees EOF), which
      // Node waits for before it can exit.
      this.machine.channel.close();
      this.machine.terminal?.close();
      const child = this.machine.child;
      const killed = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(killed);
      await this.p.log.close();
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** An object kmemleak reported: its address and when it was allocated (an address is reused). */
const leakKey = (l: Leak) => `${l.address} ${l.jiffies}`;

/** A report without the leaks already known: from its records and from its raw text. */
export function withoutKnownLeaks(report: KmemleakState, known: Set<string>): KmemleakState {
  if (!known.size) return report;
  const records = report.raw.split(/(?=^unreferenced object )/m);
  const raw = records.filter((r) => !parseKmemleakReport(r).some((l) => known.has(leakKey(l)))).join('');
  return { ...report, leaks: report.leaks.filter((l) => !known.has(leakKey(l))), raw };
}

