// The raw binding, typed once. Everything else goes through src/addon.ts.
import { createRequire } from 'node:module';

export interface NativeHarness {
  name: string;
  syscall: string;
  summary: string;
}

export interface NativeStep {
  nth: number;
  /** 0, or -errno as the harness returned it */
  ret: number;
  /** fail-nth read back 0: the nth injection point was reached and failed */
  injected: boolean;
  /** the sweep's own thread (kf_sweep starts one per sweep) */
  tid: number;
  /** a user's harness process died of this signal in this step ("SIGSEGV"); ret means nothing then */
  signal: string | null;
  ns: number;
  /** what the kernel logged during the step (/dev/kmsg message texts, one per line) */
  kmsg: string;
  /** e2fsck of each scratch disk with a filesystem after a step that injected; null: none */
  fsck: NativeFsck[] | null;
}

/** One disk's check after a step (native/fsck.c); protocol.ts's FsckCheck. */
export interface NativeFsck {
  device: string;
  fs: string;
  ran: boolean;
  status: number;
  timedOut: boolean;
  replayed: boolean;
  replayErrno: string | null;
  errorState: boolean;
  repaired: boolean;
  repairStatus: number | null;
  ns: number;
  note: string;
  output: string;
  outputBytes: number;
  kmsg: string;
}

export interface NativeSweep {
  /** the sweep ended at a step where nothing was injected */
  complete: boolean;
}

/** A built-in harness by name, or a user's shared object (kfault_run & co.) and its argument. */
export type NativeTarget = { harness: string } | { library: string; arg: string };

export interface NativeSteps {
  first: number;
  last: number;
  /** nths not to run (steps that crashed an earlier guest) */
  skip: number[];
  /** random mode: no fail-nth; runs first..last with make-it-fail=1 on the sweep thread */
  random?: boolean;
}

/** Errors thrown by the binding, shaped like Node's fs errors. */
export interface NativeError extends Error {
  code: string;
  errno: number;
  syscall?: string;
  path?: string;
}

export interface NativeStress {
  runs: number;
  /** runs whose harness returned an error */
  failed: number;
  ns: number;
}

/** One traced run of a program (native/command.c). */
export interface NativeCommandOptions {
  /** the program, resolved: execve does not search PATH */
  path: string;
  argv: string[];
  cwd: string;
  /** then every task of the run is killed */
  timeoutMs: number;
  /** trace: count its syscalls; nth: fail-nth = nth at the call-th call of syscall; random:
   * make-it-fail once its execve succeeded */
  mode: 'trace' | 'nth' | 'random';
  syscall?: string;
  call?: number;
  nth?: number;
}

export interface NativeCommandRun {
  /** the program's execve succeeded */
  started: boolean;
  /** not started: why (0: unknown) */
  execErrno: number;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  pid: number;
  /** random: make-it-fail was set once the program had exec'd */
  armed: boolean;
  /** nth: the call was reached and fail-nth written for its thread */
  reached: boolean;
  tid: number;
  /** fail-nth read back 0: the nth fault point in the call was reached and failed */
  injected: boolean;
  left: number;
  /** the call's return value: -errno when it failed */
  ret: number;
  /** the thread ended inside the call */
  exitedInCall: boolean;
  ns: number;
  /** each syscall it made after its execve, in the order of first use, with its count */
  syscalls: { nr: number; name: string; count: number }[];
  /** every task traced (threads, children) */
  threads: number[];
  /** the tail of stdout and stderr (4 KiB at most) */
  output: string;
  outputBytes: number;
}

export interface NativeBinding {
  harnesses(): NativeHarness[];
  /** true only when /proc/cmdline carries the kfault guest marker */
  inGuest(): boolean;
  /** Sweeps one harness on a thread of its own, onStep after each step; rejects with
   * KFAULT_NOT_GUEST outside a kfault guest. */
  sweep(target: NativeTarget, dir: string, steps: NativeSteps, onStep: (step: NativeStep) => void): Promise<NativeSweep>;
  /** finit_module(2); throws like fs errors (code, errno, syscall, path) */
  loadModule(path: string, params: string): 'loaded' | 'already loaded';
  /** Runs a harness in a loop for ms while each probability file reads its probability (global injection). */
  stress(name: string, dir: string, ms: number, probabilityPaths: string[], probabilities: number[]): Promise<NativeStress>;
  /** Every readable file under the entries of dir whose names start with prefix, as
   * "entry/sub/file" -> contents, read from C in one call (the agent's fault-state snapshot). */
  readTree(dir: string, prefix: string): Record<string, string>;
  /** flock(LOCK_EX | LOCK_NB) on path (created if needed), holder written into it: the fd that
   * holds the lock, or null when another open file holds it; throws like fs errors */
  lockTry(path: string, holder: string): number | null;
  /** closes the fd, which drops the lock */
  lockRelease(fd: number): void;
  /** the kernel's name of errno n or -n (EOPNOTSUPP for 95), as native errors' codes name it; null when unknown */
  errnoName(n: number): string | null;
  /** an fd on /dev/kmsg at the end of the log (fromStart: at its oldest record); throws like fs errors */
  kmsgOpen(fromStart: boolean): number;
  /** every record logged since the fd was opened or last read: timestamp (us since boot) and message text */
  kmsgRead(fd: number): Array<{ usec: number; text: string }>;
  /** Runs a program once under ptrace (see NativeCommandOptions); rejects with KFAULT_NOT_GUEST
   * outside a kfault guest, and when the run could not be made (fork, arming) */
  commandRun(o: NativeCommandOptions): Promise<NativeCommandRun>;
  /** x86_64 syscall names by number (null where none) */
  syscallNames(): (string | null)[];
}

const require = createRequire(import.meta.url);

let binding: NativeBinding | undefined;

export function loadBinding(): NativeBinding {
  binding ??= require('../build/Release/kfault.node') as NativeBinding;
  return binding;
}
