// A booted kfault guest: typed requests to its agent, and a close() that always stops QEMU.
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { Config } from '../config.js';
import type { Kernel } from '../kernel/build.js';
import { ResultOf, SweepOptions, type Harness, type Ready, type Request, type KmemleakState, type StressResult, type SweepResult } from '../protocol.js';
import type { AgentChannel } from './channel.js';
import type { ConsoleLog } from './console.js';
import type { Accel } from './qemu.js';

export class GuestError extends Error {
  constructor(message: string, readonly code: string, readonly details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'GuestError';
  }
}

interface GuestParts {
  child: ChildProcess;
  channel: AgentChannel;
  ready: Ready;
  accel: Accel;
  log: ConsoleLog;
  sockDir: string;
  config: Config;
  notes: string[];
  kernel: Kernel;
}

export class Guest implements AsyncDisposable {
  readonly accel: Accel;
  readonly kernel: string;
  readonly catalogue: Harness[];
  readonly consoleLog: string;
  readonly notes: string[];
  /** QEMU's pid */
  readonly pid: number;
  private closing?: Promise<void>;
  private readonly exited: Promise<void>;

  constructor(private readonly p: GuestParts) {
    this.accel = p.accel;
    this.kernel = p.ready.kernel;
    this.catalogue = p.ready.harnesses;
    this.consoleLog = p.log.path;
    this.notes = p.notes;
    this.pid = p.child.pid!;
    this.exited = new Promise((res) => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) res();
      else p.child.once('exit', () => res());
    });
  }

  private async call<T extends keyof typeof ResultOf>(body: Omit<Extract<Request, { type: T }>, 'id'> & { type: T }, timeoutMs = this.p.config.machine.requestTimeoutMs) {
    const reply = await this.p.channel.request(body as Omit<Request, 'id'>, timeoutMs).catch((e: Error) => {
      throw new GuestError(`${e.message}\nconsole log: ${this.p.log.path}\n--- last console lines ---\n${this.p.log.lastLines(20)}`, 'KFAULT_GUEST_LOST');
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

  /** Sweeps one harness of the catalogue with fail-nth 1, 2, ... until nothing is injected. */
  sweep(harness: string, options: SweepOptions = {}): Promise<SweepResult> {
    const o = SweepOptions.parse({ maxSteps: this.p.config.sweep.maxSteps, kmemleakFilter: this.p.config.sweep.kmemleakFilter, ...options });
    const text = this.p.kernel.kmemleakText;
    return this.call({
      type: 'sweep',
      harness,
      maxSteps: o.maxSteps,
      kmemleakText: o.kmemleakFilter ? text.range : null,
      kmemleakTextWhy: o.kmemleakFilter ? text.why : 'turned off (kmemleakFilter: false)',
    });
  }

  /** Global random injection (failslab + fail_page_alloc, probability 100) while a harness loops. */
  stress(harness: string, seconds: number): Promise<StressResult> {
    return this.call({ type: 'stress', harness, seconds }, (seconds + 120) * 1000);
  }

  /** Forgets the objects kmemleak would report now, so a later check sees only new leaks. */
  kmemleakClear(): Promise<KmemleakState> {
    return this.call({ type: 'kmemleak', action: 'clear' });
  }

  /**
   * kmemleak's leaks since kmemleakClear(): waits until every object made so far is older than
   * kmemleak's minimum age (5 s in 6.12), then scans twice (the first scan only records
   * checksums) and reads the report. One such check per batch of sweeps, never per step.
   */
  async kmemleakCheck(): Promise<KmemleakState> {
    await new Promise((r) => setTimeout(r, 5_500));
    const first = await this.call({ type: 'kmemleak', action: 'scan' });
    if (!first.enabled) return first;
    return this.call({ type: 'kmemleak', action: 'scan' });
  }

  /** Asks the agent to stop, then makes sure QEMU is gone. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.call({ type: 'shutdown' }, 10_000).catch(() => {});
      // Closing our end unblocks the agent's pending read of the port (it sees EOF), which
      // Node waits for before it can exit.
      this.p.channel.close();
      const killed = setTimeout(() => this.p.child.kill('SIGKILL'), 10_000);
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
