// boot(): start QEMU on a kernel image, wait for the guest agent, hand back a Guest.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Config } from '../config.js';
import { packageRoot } from '../paths.js';
import { ensureKernel, type Kernel } from '../kernel/build.js';
import type { Ready } from '../protocol.js';
import { failureWasKvms, kvmDeviceUsable, knownKvmFailure, planAccel, rememberKvm } from './accel.js';
import { AgentChannel } from './channel.js';
import { TerminalPort } from './terminal-port.js';
import { ConsoleLog } from './console.js';
import { Guest, type Machine } from './guest.js';
import { qemuArgs, shellQuote, type Accel } from './qemu.js';
import { disksParam, makeDisks } from './disks.js';

export const QEMU = 'qemu-system-x86_64';

export interface BootOptions {
  /** the kernel to boot; default: the one the config asks for, built or taken from the cache */
  kernel?: Kernel;
  /** called with the exact QEMU command line before it runs */
  onQemuCommand?: (command: string) => void;
  onConsoleLine?: (line: string) => void;
  onNote?: (note: string) => void;
  /** kfault shell: a virtio console (the guest's hvc0) whose host end is Guest.terminal */
  shellConsole?: boolean;
}

const live = new Set<ChildProcess>();
/** socket dirs not yet removed: QEMU has not connected yet */
const liveDirs = new Set<string>();
let exitHookInstalled = false;

/** No orphan QEMU and no socket dir left: both go with the host process (PDEATHSIG via
 * setpriv, and exit/signal hooks; a socket dir lives only until QEMU has connected). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
    for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const c of live) c.kill('SIGKILL');
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

function removeSocketDir(dir: string): void {
  liveDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

/** A socket dir lives for the moment QEMU takes to connect: one older than this was left by a
 * kfault that was killed (SIGKILL) in that moment. */
const STALE_SOCKET_DIR_MS = 60_000;

/** Removes such dirs in base: kfault-XXXXXX, ours, holding nothing but agent sockets. */
export function removeStaleSocketDirs(base: string, now = Date.now()): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(base).filter((n) => /^kfault-[A-Za-z0-9]{6}$/.test(n));
  } catch {
    return removed;
  }
  for (const n of names) {
    const dir = join(base, n);
    try {
      const st = lstatSync(dir);
      if (!st.isDirectory() || st.uid !== process.getuid?.() || now - st.mtimeMs < STALE_SOCKET_DIR_MS) continue;
      if (!readdirSync(dir).every((f) => /^agent-\w+-\d+\.sock$/.test(f))) continue;
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // gone meanwhile, or not ours to look into
    }
  }
  return removed;
}

function qemuVersion(): string {
  const r = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(`${QEMU} not found or not runnable; install it with: apt-get install qemu-system-x86`);
  }
  return r.stdout.split('\n')[0]!.trim();
}

const hasSetpriv = (() => {
  let cached: boolean | undefined;
  return () => (cached ??= spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0);
})();

export class BootError extends Error {
  /** the failure was the accelerator's (see failureWasKvms), not the guest's */
  kvmFault = false;
  constructor(message: string, readonly consoleLog: string) {
    super(message);
    this.name = 'BootError';
  }
}

/** The kernel parameters kfault adds to qemu.ts's own (recorded in results for `kfault repro`).
 * KASAN's stack depot allocates (with __GFP_NOWARN, so silently) from inside every tracked
 * allocation: fail-nth would count those and spend steps in KASAN, as it does in kmemleak.
 * Reports then carry no alloc/free stacks. Unknown to kernels without KASAN; the user's
 * machine.cmdline comes after it and can turn it back on. */
export function guestCmdline(config: Config): string[] {
  return ['kasan.stacktrace=off', ...config.machine.cmdline];
}

let machines = 0;

/** A unix socket's path holds 107 bytes at most (sun_path): the agent's socket goes under
 * $TMPDIR, or /tmp when that is too long, or kfault says why it cannot. */
const SOCKET_NAME_MAX = 'agent-kvm-99999.sock'.length;
export function socketDir(base = tmpdir()): string {
  for (const dir of [base, '/tmp']) {
    if (join(dir, 'kfault-XXXXXX', SOCKET_NAME_MAX.toString().padEnd(SOCKET_NAME_MAX, 'x')).length <= 107) {
      removeStaleSocketDirs(dir);
      return mkdtempSync(join(dir, 'kfault-'));
    }
  }
  throw new Error(`no directory for the agent's unix socket: ${base} and /tmp give paths longer than a unix socket takes (107 bytes); set TMPDIR to a shorter path`);
}

async function startOnce(config: Config, o: BootOptions & { kernel: Kernel }, accel: Accel, log: ConsoleLog, probeKvm: boolean): Promise<Machine> {
  installExitHook();
  const sockDir = socketDir();
  liveDirs.add(sockDir);
  const socketPath = join(sockDir, `agent-${accel}-${++machines}.sock`);
  let channel: AgentChannel;
  try {
    channel = await AgentChannel.listen(socketPath);
  } catch (e) {
    removeSocketDir(sockDir);
    throw e;
  }
  // once QEMU is connected, the path is not needed: nothing is left on disk if kfault is killed
  void channel.whenConnected().then(() => removeSocketDir(sockDir));
  const shellSocket = o.shellConsole ? join(sockDir, `shell-${machines}.sock`) : undefined;
  const terminal = shellSocket ? await TerminalPort.listen(shellSocket) : undefined;
  // fresh disks for every guest, a guest booted again after a crash too
  let disks: ReturnType<typeof makeDisks>;
  try {
    disks = makeDisks(config.machine.disks);
  } catch (e) {
    channel.close();
    removeSocketDir(sockDir);
    terminal?.close();
    throw e;
  }
  const args = qemuArgs({
    qemu: QEMU,
    accel,
    cpus: config.machine.cpus,
    memoryMiB: config.machine.memoryMiB,
    kernelImage: resolve(o.kernel.image),
    init: join(packageRoot, 'src/guest/init.sh'),
    agentSocket: socketPath,
    cmdline: [...disksParam(config.machine.disks), ...guestCmdline(config)],
    shellSocket,
    disks: disks?.paths,
  });
  o.onQemuCommand?.(shellQuote([QEMU, ...args]));
  const [cmd, argv] = hasSetpriv() ? ['setpriv', ['--pdeathsig', 'KILL', QEMU, ...args]] : [QEMU, args];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  log.line(`kfault: started ${QEMU} (${accel}), pid ${child.pid}`);
  log.attach(child.stdout!);
  log.attach(child.stderr!);
  const exited = new Promise<string>((res) => {
    child.once('exit', (code, sig) => {
      live.delete(child);
      channel.fail(new Error(`QEMU exited (${sig ?? `status ${code}`})`));
      res(`QEMU exited (${sig ?? `status ${code}`}) before the agent was ready`);
    });
    child.once('error', (e) => res(`${QEMU} could not start: ${e.message}`));
  });
  const timeout = (ms: number, what: string) =>
    new Promise<string>((res) => setTimeout(() => res(`${what} within ${ms} ms`), ms).unref());

  const since = log.mark();
  let bannerSeen = false;
  const banner = log.waitFor(/Linux version/).then(() => {
    bannerSeen = true;
  });
  const fail = (reason: string): never => {
    child.kill('SIGKILL');
    channel.close();
    removeSocketDir(sockDir);
    terminal?.close();
    disks?.remove();
    const e = new BootError(`${accel}: ${reason}`, log.lastLines());
    e.kvmFault = accel === 'kvm' && failureWasKvms(reason, log.since(since).join('\n'), bannerSeen);
    throw e;
  };

  if (probeKvm) {
    // A working KVM guest prints its banner in well under a second.
    const first = await Promise.race([
      banner.then(() => 'ok'),
      exited,
      timeout(config.machine.kvmProbeMs, 'no kernel banner on the console'),
    ]);
    if (first !== 'ok') fail(first);
  }
  const ready = await Promise.race([channel.whenReady(), exited, timeout(config.machine.bootTimeoutMs, 'the guest agent did not report ready')]);
  if (typeof ready === 'string') fail(ready);
  disks?.remove(); // QEMU has them open: they go with it
  const diskProblems = (ready as Ready).disks.filter((d) => d.error).map((d) => `machine.disks.${d.index}: ${d.error}`);
  if (diskProblems.length) fail(`the guest could not use its disks:\n${diskProblems.join('\n')}`);
  return { child, channel, ready: ready as Ready, terminal };
}

/** A fresh QEMU after a crash: same kernel, accelerator and console log. */
async function restart(config: Config, o: BootOptions & { kernel: Kernel }, accel: Accel, log: ConsoleLog): Promise<Machine> {
  log.line(`kfault: booting a fresh guest (${accel})`);
  try {
    return await startOnce(config, o, accel, log, false);
  } catch (e) {
    throw new BootError(`the guest did not boot again after a crash: ${(e as Error).message}\nconsole log: ${log.path}`, log.lastLines());
  }
}

export async function boot(config: Config, options: BootOptions = {}): Promise<Guest> {
  const o = { ...options, kernel: options.kernel ?? (await ensureKernel(config)) };
  if (!existsSync(o.kernel.image)) throw new Error(`kernel image not found: ${o.kernel.image}`);
  installExitHook();
  const version = qemuVersion();
  const plan = planAccel(config.machine.accel, config.machine.accel === 'auto' ? (kvmDeviceUsable() ?? knownKvmFailure(version)) : null);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const log = new ConsoleLog(resolve(config.logDir, `console-${stamp}-${process.pid}.log`), o.onConsoleLine);
  const notes = [plan.note];
  try {
    for (const [i, accel] of plan.order.entries()) {
      const last = i === plan.order.length - 1;
      try {
        const machine = await startOnce(config, o, accel, log, accel === 'kvm' && !last);
        if (accel === 'kvm' && config.machine.accel === 'auto') rememberKvm(version, true, 'a guest booted');
        if (machine.ready.siteTraceWhy) notes.push(`faults in __GFP_NOWARN allocations get no call site: ${machine.ready.siteTraceWhy}`);
        if (machine.ready.leakCheckWhy) notes.push(`kmemleak may miss leaks: ${machine.ready.leakCheckWhy}`);
        for (const n of notes) o.onNote?.(n);
        return new Guest({ machine, restart: () => restart(config, o, accel, log), accel, log, config, notes, kernel: o.kernel });
      } catch (e) {
        // a guest that failed after its kernel started would fail under TCG the same way
        if (last || !(e instanceof BootError) || !e.kvmFault) throw e;
        notes.push(`KVM failed (${e.message}); using TCG`);
        rememberKvm(version, false, e.message);
      }
    }
    throw new Error('no accelerator to try');
  } catch (e) {
    await log.close();
    if (e instanceof BootError) {
      throw new BootError(`the guest did not boot: ${e.message}\nconsole log: ${log.path}\n--- last console lines ---\n${e.consoleLog}`, e.consoleLog);
    }
    throw e;
  }
}
