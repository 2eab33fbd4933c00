// A booted kfault guest: typed requests to its agent, crash recovery, and a close() that always
// stops QEMU.
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { Config } from '../config.js';
import type { Kernel } from '../kernel/build.js';
import { faultBeforeCrash, parseConsoleCrash, stepOfComm } from '../kmsg/crash.js';
import type { FaultsConfig } from '../fault-knobs.js';
import {
  ResultOf,
  SweepOptions,
  type BenchResult,
  type CommandResult,
  type Crash,
  type Harness,
  type KmemleakState,
  type Ready,
  type Request,
  type Step,
  type StepEvent,
  type StressResult,
  type ShellResult,
  type SweepResult,
} from '../protocol.js';
import type { AgentChannel } from './channel.js';
import type { TerminalPort } from './terminal-port.js';
import type { ConsoleLog } from './console.js';
import type { Accel } from './qemu.js';
import { guestCmdline } from './boot.js';
import { sweepSetup } from '../repro/setup.js';

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
  sockDir: string;
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

export interface KernelModule {
  path: string;
  params: string;
}

const MAX_CRASHES_PER_SWEEP = 20;

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

  constructor(private readonly p: GuestParts) {
    this.machine = p.machine;
    this.accel = p.accel;
    this.kernel = p.machine.ready.kernel;
    this.catalogue = p.machine.ready.harnesses;
    this.consoleLog = p.log.path;
    this.notes = p.notes;
    this.watch();
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
    onEvent?: (e: StepEvent) => void,
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
    const cfg = this.p.config.sweep;
    const { onStep, skip = [], mode = cfg.mode === 'random' ? 'random' : 'systematic', iterations = cfg.iterations, faults = this.p.config.faults, ...rest } = options;
    const random = mode === 'random';
    const o = SweepOptions.parse({ maxSteps: random ? iterations : cfg.maxSteps, kmemleakFilter: cfg.kmemleakFilter, ...rest });
    const text = this.p.kernel.kmemleakText;
    const user = typeof harness === 'string' ? null : harness;
    const name = user ? user.name : (harness as string);
    const builtin = this.catalogue.find((h) => h.name === name);
    const steps = new Map<number, Step>();
    const crashes: Crash[] = [];
    const start = performance.now();
    let first = 1;
    let tid: number | null = null;
    for (;;) {
      const mark = this.p.log.mark();
      try {
        const done = await this.call(
          {
            type: 'sweep',
            harness: name,
            library: user?.library ?? null,
            arg: user?.arg ?? '',
            first,
            maxSteps: o.maxSteps,
            skip: [...skip, ...crashes.map((c) => c.nth)],
            random,
            faults,
            kmemleakText: o.kmemleakFilter ? text.range : null,
            kmemleakTextWhy: o.kmemleakFilter ? text.why : 'turned off (kmemleakFilter: false)',
          },
          this.p.config.machine.stepTimeoutMs,
          (e) => {
            steps.set(e.step.nth, e.step);
            tid = e.step.tid;
            onStep?.(e.step);
          },
        );
        this.lastSweepEnd = Date.now();
        return {
          harness: name,
          library: user?.library ?? null,
          arg: user?.arg ?? null,
          syscall: builtin?.syscall ?? 'kfault_run',
          summary: builtin?.summary ?? `a user's harness (${user?.library})`,
          maxSteps: o.maxSteps,
          mode,
          complete: done.complete,
          steps: [...steps.values()].sort((a, b) => a.nth - b.nth),
          leaks: [],
          crashes: crashes.sort((a, b) => a.nth - b.nth),
          ms: performance.now() - start,
          kmemleakFilter: done.kmemleakFilter,
          refillFilter: done.refillFilter,
          setup: sweepSetup({ faults, kmemleakFilter: o.kmemleakFilter, kmemleakText: text, systemMap: this.p.kernel.systemMap, source: user?.source, cmdline: guestCmdline(this.p.config) }),
        };
      } catch (e) {
        if (!(e instanceof GuestError) || (e.code !== 'KFAULT_GUEST_LOST' && e.code !== 'KFAULT_TIMEOUT')) throw e;
        const last = Math.max(first - 1, ...steps.keys());
        // the step that was running: the first after the last one that finished, skips skipped
        const skipped = new Set([...skip, ...crashes.map((c) => c.nth)]);
        let running = last + 1;
        while (skipped.has(running)) running++;
        const crash = await this.recover(e.code === 'KFAULT_TIMEOUT', mark, running, tid);
        crashes.push(crash);
        if (crashes.length > MAX_CRASHES_PER_SWEEP) {
          throw new GuestError(`${name}: more than ${MAX_CRASHES_PER_SWEEP} steps crashed the guest; giving up (console log: ${this.p.log.path})`, 'KFAULT_TOO_MANY_CRASHES');
        }
        first = last + 1;
      }
    }
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
    this.watch();
    if (this.modules.length) await this.call({ type: 'modules', modules: this.modules });
  }

  /**
   * A whole program under random injection, runs times: make-it-fail + task-filter (inherited
   * across fork/exec, as failcmd.sh does), since fail-nth is per thread and not inherited.
   */
  command(argv: string[], o: { runs?: number; probability?: number; interval?: number; times?: number; timeoutMs?: number } = {}): Promise<CommandResult> {
    const req = { runs: 10, probability: 100, interval: 1, times: 1, timeoutMs: 30_000, ...o };
    return this.call({ type: 'command', argv, ...req }, req.runs * (req.timeoutMs + 5_000) + 60_000);
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

  /** Forgets the objects kmemleak would report now, so a later check sees only new leaks. */
  kmemleakClear(): Promise<KmemleakState> {
    return this.call({ type: 'kmemleak', action: 'clear' });
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
    return this.call({ type: 'kmemleak', action: 'report' });
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
      rmSync(this.p.sockDir, { recursive: true, force: true });
      await this.p.log.close();
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
