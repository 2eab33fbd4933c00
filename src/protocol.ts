// Every message between host and guest agent: JSON, one per line, validated on both sides.
import { z } from 'zod';
import { FaultSite } from './kmsg/fault-site.js';
import { Leak } from './kmsg/leak.js';
import { FaultsConfig } from './fault-knobs.js';

export const Harness = z.object({
  name: z.string(),
  syscall: z.string(),
  summary: z.string(),
});
export type Harness = z.infer<typeof Harness>;

/** What a program did in one run of kfault command (src/guest/command.ts). */
export const ProgramRun = z.strictObject({
  /** the program's execve succeeded: it ran (faults are armed only after that) */
  started: z.boolean(),
  /** not started: the errno of its execve (or of the setup before it), e.g. "ENOENT" */
  execError: z.string().nullable(),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  /** killed at the run's time limit (timeoutMs): a hang */
  timedOut: z.boolean(),
  timeoutMs: z.number().int().positive(),
  ms: z.number().nonnegative(),
  pid: z.number().int(),
  /** every task traced in the run: its threads and children */
  threads: z.array(z.number().int()),
  /** the tail of its stdout and stderr, interleaved */
  output: z.string(),
  outputBytes: z.number().int().nonnegative(),
});
export type ProgramRun = z.infer<typeof ProgramRun>;

/** A step of a program's sweep (kfault command --sweep): the call armed, and the run. */
export const CommandStep = ProgramRun.extend({
  /** the syscall whose call-th call was armed with fail-nth */
  syscall: z.string(),
  call: z.number().int().positive(),
  /** the run got to that call */
  reached: z.boolean(),
  /** what the call returned to the program: -errno when it failed, else its result */
  ret: z.number().int(),
});
export type CommandStep = z.infer<typeof CommandStep>;

/** Function mode: the function a step failed with fail_function, its error type on the
 * injectable list, and what it was made to return (read back from fail_function/<name>/retval). */
export const StepFunction = z.strictObject({ name: z.string(), type: z.string(), retval: z.number().int() });
export type StepFunction = z.infer<typeof StepFunction>;
/** e2fsck -fn of a scratch disk after a step that injected (native/fsck.c). */
export const FsckCheck = z.strictObject({
  device: z.string(),
  fs: z.string(),
  /** e2fsck -fn ran to its end; status is its exit status (0 clean, 4 errors left uncorrected, 8 operational error) */
  ran: z.boolean(),
  status: z.number().int(),
  timedOut: z.boolean(),
  /** the journal needed recovery: the disk was mounted and unmounted (unarmed) first, so that the kernel replayed it */
  replayed: z.boolean(),
  /** that mount failed (e2fsck then skipped recovery): its errno */
  replayErrno: z.string().nullable(),
  /** the superblock said the kernel had recorded an error (s_state ERROR_FS) */
  errorState: z.boolean(),
  /** e2fsck -fy ran after it, so that the next step started from a clean filesystem */
  repaired: z.boolean(),
  repairStatus: z.number().int().nullable(),
  ns: z.number().nonnegative(),
  /** why it was not checked, or what else happened */
  note: z.string(),
  /** e2fsck's own output (stdout and stderr), the first 64 KiB */
  output: z.string(),
  outputBytes: z.number().int().nonnegative(),
  /** what the kernel logged during the check (the replay, the unmount and mount) */
  kmsg: z.string(),
});
export type FsckCheck = z.infer<typeof FsckCheck>;

export const Step = z.object({
  nth: z.number().int().positive(),
  ret: z.number().int().max(0),
  errno: z.string().nullable(),
  injected: z.boolean(),
  /** the sweep's thread in the guest: kmemleak and oops reports name it (pid), comm "kf#<nth>" */
  tid: z.number().int(),
  /** a user's harness was killed by this signal (e.g. "SIGSEGV") during the step, in user space */
  signal: z.string().nullable().default(null),
  ns: z.number().nonnegative(),
  kmsg: z.string(),
  /** where the injected fault struck, from its stack trace; null when none was logged */
  fault: FaultSite.nullable(),
  /** a fault that logged no trace (__GFP_NOWARN): what the allocation tracepoints recorded */
  trace: z.string().default(''),
  /** a program's sweep: the call armed and what the program did; null for harnesses */
  command: CommandStep.nullable().optional(),
  /** function mode: the function failed in this step */
  function: StepFunction.optional(),
  /** a scratch disk with a filesystem was attached: e2fsck's check of each after the step */
  fsck: z.array(FsckCheck).nullable().optional(),
});
export type Step = z.infer<typeof Step>;

/** A step that took the guest down (oops with oops=panic, panic) or never finished (hang). */
export const Crash = z.strictObject({
  nth: z.number().int().positive(),
  kind: z.enum(['oops', 'panic', 'hang']),
  /** e.g. "BUG: kernel NULL pointer dereference, address: 0000000000000000" */
  headline: z.string(),
  /** where it happened: the RIP line's function, e.g. "oopsy+0x2a/0x90 [kfault_test]" */
  at: z.string().nullable(),
  /** the console lines of the report */
  log: z.array(z.string()),
  consoleLog: z.string(),
  /** the fault injected in the step, from its stack dump on the console; null: none there */
  fault: FaultSite.nullable().default(null),
});
export type Crash = z.infer<typeof Crash>;

/** A stretch of kernel text: [address of anchor + start, address of anchor + end). */
export const TextRange = z.strictObject({ anchor: z.string().min(1), start: z.number().int(), end: z.number().int() });
export type TextRange = z.infer<typeof TextRange>;

/** Whether injected faults were kept out of kmemleak's own code, and why or why not. */
export const KmemleakFilter = z.strictObject({
  kmemleakOn: z.boolean(),
  /** the kernel itself keeps kmemleak's allocations out of fault injection (kfault's patch) */
  kernelKeepsOut: z.boolean(),
  applied: z.boolean(),
  note: z.string(),
});
export type KmemleakFilter = z.infer<typeof KmemleakFilter>;

/** What the agent answers to a sweep request; the steps came as StepEvents before it. */
export const SweepDone = z.strictObject({ complete: z.boolean(), kmemleakFilter: KmemleakFilter, refillFilter: z.string().default('') });
export type SweepDone = z.infer<typeof SweepDone>;

/**
 * How a sweep was set up, beyond its harness and mode: what `kfault repro` needs to set the
 * injectors up the same way on another machine. Results written before it have null.
 */
export const SweepSetup = z.strictObject({
  /** the user's knobs (config faults), written over the mode's settings */
  faults: FaultsConfig,
  /** the kmemleak filter was asked for (sweep.kmemleakFilter) */
  kmemleakFilter: z.boolean(),
  /** kmemleak's .text (mm/kmemleak.o) as [first, last] function names from System.map, which
   * /proc/kallsyms resolves on any build; null when unknown (why says why) */
  kmemleakText: z.tuple([z.string(), z.string()]).nullable(),
  kmemleakTextWhy: z.string(),
  /** a user's harness: its C file, and the text that was swept */
  source: z.strictObject({ path: z.string(), text: z.string() }).nullable(),
  /** the kernel command line's extra parameters (kasan.stacktrace=off, machine.cmdline) */
  cmdline: z.array(z.string()),
});
export type SweepSetup = z.infer<typeof SweepSetup>;

/** Function mode's first pass: an unarmed run of the harness with a kprobe event on each
 * function of fail_function's injectable list, filtered to the harness's thread. */
export const FunctionTrace = z.strictObject({
  /** the injectable functions the run reached, in order of first hit: the steps, in this order */
  functions: z.array(z.strictObject({ name: z.string(), type: z.string() })),
  /** how many functions the injectable list has */
  injectable: z.number().int().nonnegative(),
  /** syscall entry points left out (failing a syscall at its entry runs no error path) */
  syscallsLeftOut: z.number().int().nonnegative(),
  /** functions kprobes refused, each with the kernel's errno ("foo: EINVAL") */
  refused: z.array(z.string()),
  /** what the harness's traced run returned: 0, or -errno */
  ret: z.number().int().max(0),
});
export type FunctionTrace = z.infer<typeof FunctionTrace>;

export const SweepResult = z.object({
  harness: z.string(),
  /** a user's harness: the shared object and its argument */
  library: z.string().nullable().default(null),
  arg: z.string().nullable().default(null),
  syscall: z.string(),
  summary: z.string(),
  maxSteps: z.number().int().positive(),
  /** systematic: fail-nth 1, 2, ...; random: maxSteps runs under make-it-fail + probability;
   * function: each function of the traced run failed once with fail_function */
  mode: z.enum(['systematic', 'random', 'function']).default('systematic'),
  complete: z.boolean(),
  steps: z.array(Step),
  /** kmemleak's leaks tied to this sweep: nth null for the harness's setup or teardown */
  leaks: z.array(z.strictObject({ nth: z.number().int().positive().nullable(), leak: Leak })).default([]),
  /** steps that crashed or hung the guest; the sweep went on in a fresh guest */
  crashes: z.array(Crash).default([]),
  ms: z.number().nonnegative(),
  kmemleakFilter: KmemleakFilter,
  /** whether SLUB's slab refills were kept out of the counted points (refill-filter.ts) */
  refillFilter: z.string().default(''),
  setup: SweepSetup.nullable().default(null),
  /** function mode: what the traced run reached, and what it left out */
  functionTrace: FunctionTrace.optional(),
});
export type SweepResult = z.infer<typeof SweepResult>;

/** Global random injection (failslab and fail_page_alloc at probability 100) for a while. */
export const StressResult = z.strictObject({
  harness: z.string(),
  seconds: z.number(),
  runs: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  kmemleakEnabledBefore: z.boolean(),
  kmemleakEnabledAfter: z.boolean(),
  /** kernel log lines from kmemleak during the run (e.g. "Kernel memory leak detector disabled") */
  kmemleakLog: z.array(z.string()),
});
export type StressResult = z.infer<typeof StressResult>;

export const KmemleakState = z.strictObject({
  enabled: z.boolean(),
  /** why it is not: the errno of the command and what kmemleak logged */
  why: z.string().nullable(),
  leaks: z.array(Leak),
  /** the report as kmemleak printed it (action report) */
  raw: z.string().default(''),
});
export type KmemleakState = z.infer<typeof KmemleakState>;

export const SweepOptions = z.strictObject({
  maxSteps: z.number().int().min(1).max(1_000_000).default(1000),
  /** keep injected faults out of kmemleak's code with the stack filter (when kmemleak is on) */
  kmemleakFilter: z.boolean().default(true),
});
export type SweepOptions = z.input<typeof SweepOptions>;

const id = z.number().int().nonnegative();

const commandFields = {
  argv: z.array(z.string()).min(1),
  runs: z.number().int().min(1).max(100_000),
  probability: z.number().int().min(0).max(100),
  interval: z.number().int().min(1),
  times: z.number().int().min(-1),
  timeoutMs: z.number().int().min(100),
};

/** A program as the guest runs it: its path resolved on the host (the guest sees the same root). */
const programFields = {
  path: z.string().min(1),
  argv: z.array(z.string()).min(1),
  /** each run's time limit; then every task of the run is killed and the run is a hang */
  timeoutMs: z.number().int().min(100),
};

export const Request = z.discriminatedUnion('type', [
  z.strictObject({ id, type: z.literal('command'), ...commandFields, path: z.string().min(1) }),
  /** one unarmed traced run: does the program work, and which syscalls does it make */
  z.strictObject({ id, type: z.literal('commandTrace'), ...programFields }),
  /** fail-nth first, first+1, ... at the call-th call of syscall, one run each, until nothing is injected */
  z.strictObject({
    id,
    type: z.literal('commandSweep'),
    ...programFields,
    syscall: z.string().min(1),
    call: z.number().int().min(1),
    first: z.number().int().min(1),
    maxSteps: z.number().int().min(1).max(1_000_000),
    skip: z.array(z.number().int().positive()),
    faults: FaultsConfig,
    kmemleakText: TextRange.nullable(),
    kmemleakTextWhy: z.string(),
  }),
  z.strictObject({
    id,
    type: z.literal('sweep'),
    harness: z.string().min(1),
    /** a user's harness (shared object in the guest's view of the host root) and its argument */
    library: z.string().min(1).nullable(),
    arg: z.string(),
    first: z.number().int().min(1),
    maxSteps: z.number().int().min(1).max(1_000_000),
    skip: z.array(z.number().int().positive()),
    /** random mode: runs 1..maxSteps with make-it-fail on the sweep thread, no fail-nth */
    random: z.boolean(),
    /** the user's knobs, written over the mode's settings */
    faults: FaultsConfig,
    /** kmemleak's text to reject with the stack filter; null: do not filter (and say why) */
    kmemleakText: TextRange.nullable(),
    kmemleakTextWhy: z.string(),
  }),
  /**
   * Many sweeps in one request (a batch: kfault sweep's harnesses, or one harness again and
   * again), each from step 1, under one mode and one set of fault settings, written once before
   * them and restored once after (a user's harness gets its own write and restore). Each step
   * comes as a step event with the target's index, each sweep's end as a sweepDone event.
   */
  z.strictObject({
    id,
    type: z.literal('sweeps'),
    targets: z
      .array(z.strictObject({ harness: z.string().min(1), library: z.string().min(1).nullable(), arg: z.string(), skip: z.array(z.number().int().positive()) }))
      .min(1),
    maxSteps: z.number().int().min(1).max(1_000_000),
    random: z.boolean(),
    faults: FaultsConfig,
    kmemleakText: TextRange.nullable(),
    kmemleakTextWhy: z.string(),
  }),
  /** function mode, pass 1: which injectable functions one unarmed run of the harness reaches */
  z.strictObject({
    id,
    type: z.literal('functionTrace'),
    harness: z.string().min(1),
    library: z.string().min(1).nullable(),
    arg: z.string(),
    /** trace syscall entry points too (left out by default) */
    syscalls: z.boolean(),
  }),
  /** function mode, pass 2: step k fails functions[k-1] once (fail_function, make-it-fail on the
   * harness thread), for k = first... except skip; each step comes as a step event */
  z.strictObject({
    id,
    type: z.literal('functionSweep'),
    harness: z.string().min(1),
    library: z.string().min(1).nullable(),
    arg: z.string(),
    functions: z.array(z.strictObject({ name: z.string().regex(/^[\w.$]+$/), type: z.string() })).min(1),
    first: z.number().int().min(1),
    skip: z.array(z.number().int().positive()),
    /** faults.fail_function.retval: what each function returns; null: the kernel's default for its type */
    retval: z.number().int().nullable(),
  }),
  z.strictObject({ id, type: z.literal('stress'), harness: z.string().min(1), seconds: z.number().min(1).max(3600), faults: FaultsConfig }),
  /** snapshot: every fault attribute; capabilities: which exist; roundtrip: change all, restore, compare */
  z.strictObject({ id, type: z.literal('faults'), action: z.enum(['snapshot', 'capabilities', 'roundtrip']) }),
  /** start: stop the scan thread, clear; scan: one scan with task stacks off; report: read it */
  z.strictObject({ id, type: z.literal('kmemleak'), action: z.enum(['start', 'clear', 'scan', 'report']) }),
  z.strictObject({ id, type: z.literal('modules'), modules: z.array(z.strictObject({ path: z.string().min(1), params: z.string() })) }),
  z.strictObject({ id, type: z.literal('harnesses') }),
  /**
   * bench/: runs a benchmark program in the guest (cwd the agent's work dir), under the fault
   * settings a sweep uses when sweepSettings is set (and the same kmemleak filter); argv null
   * runs nothing. The reply always carries the agent's own boot marks.
   */
  z.strictObject({
    id,
    type: z.literal('bench'),
    argv: z.array(z.string()).min(1).nullable(),
    sweepSettings: z.boolean(),
    kmemleakText: TextRange.nullable(),
    kmemleakTextWhy: z.string(),
    timeoutMs: z.number().int().min(100),
  }),
  /**
   * kfault shell: a program in the guest, in a session of its own. tty: on the guest's virtio
   * console (hvc0), which the host bridges to its terminal; null: stdin /dev/null, and its
   * stdout and stderr come back in the reply.
   */
  z.strictObject({
    id,
    type: z.literal('shell'),
    argv: z.array(z.string()).min(1),
    cwd: z.string(),
    env: z.record(z.string(), z.string()),
    tty: z.strictObject({ rows: z.number().int().min(0), cols: z.number().int().min(0) }).nullable(),
    timeoutMs: z.number().int().min(100),
  }),
  z.strictObject({ id, type: z.literal('shutdown') }),
]);
export type Request = z.infer<typeof Request>;

export const AgentError = z.object({
  code: z.string(),
  message: z.string(),
  errno: z.number().int().optional(),
  syscall: z.string().optional(),
  path: z.string().optional(),
});
export type AgentError = z.infer<typeof AgentError>;

export const GuestDisk = z.strictObject({
  index: z.number().int().nonnegative(),
  /** e.g. /dev/vda; null when the guest has no disk with serial kfault<index> */
  device: z.string().nullable(),
  fs: z.string().nullable(),
  /** where it is mounted (/mnt/kfault<index>); null for a raw disk */
  mount: z.string().nullable(),
  /** why the guest could not find or mount it; null when it could */
  error: z.string().nullable(),
});
export type GuestDisk = z.infer<typeof GuestDisk>;

export const Ready = z.strictObject({
  type: z.literal('ready'),
  kernel: z.string(),
  node: z.string(),
  uptimeMs: z.number().nonnegative(),
  harnesses: z.array(Harness),
  /** why faults in __GFP_NOWARN allocations get no call site in this guest; null: they do */
  siteTraceWhy: z.string().nullable().default(null),
  /** why this guest's kmemleak check can miss leaks (src/guest/mem-init.ts); null: it is not known to */
  leakCheckWhy: z.string().nullable().default(null),
  /** the scratch disks (machine.disks) as the guest found and mounted them */
  disks: z.array(GuestDisk).default([]),
});
export type Ready = z.infer<typeof Ready>;

export const Reply = z.discriminatedUnion('ok', [
  z.strictObject({ type: z.literal('reply'), id, ok: z.literal(true), result: z.unknown() }),
  z.strictObject({ type: z.literal('reply'), id, ok: z.literal(false), error: AgentError }),
]);
export type Reply = z.infer<typeof Reply>;

/** Sent while a sweep runs, one per step, so no finished step is lost if the guest dies. */
export const StepEvent = z.strictObject({ type: z.literal('step'), id, step: Step, /** a sweeps request: which target */ index: z.number().int().nonnegative().optional() });
export type StepEvent = z.infer<typeof StepEvent>;

/** Sent in a sweeps request when the sweep of targets[index] has ended, before the next begins. */
export const SweepDoneEvent = z.strictObject({ type: z.literal('sweepDone'), id, index: z.number().int().nonnegative(), done: SweepDone, /** the sweep's own time in the guest */ ms: z.number().nonnegative() });
export type SweepDoneEvent = z.infer<typeof SweepDoneEvent>;

export const ModuleLoaded = z.strictObject({ path: z.string(), status: z.enum(['loaded', 'already loaded']) });

export const AgentMessage = z.union([Ready, Reply, StepEvent, SweepDoneEvent]);
export type AgentMessage = z.infer<typeof AgentMessage>;

export type CommandRequest = Extract<Request, { type: 'command' }>;

/** A command run N times under random injection (see src/guest/command.ts). */
export const CommandResult = z.strictObject({
  argv: z.array(z.string()),
  /** what kind of injection this was, for the report */
  mode: z.string(),
  /** the debugfs settings during the runs */
  settings: z.record(z.string(), z.string()),
  runs: z.array(
    z.strictObject({
      run: z.number().int().positive(),
      ...ProgramRun.shape,
      /** every injected fault the kernel traced during the run, with the syscall it struck */
      faults: z.array(FaultSite.extend({ syscall: z.string().nullable(), pid: z.number().int().nullable() })),
      /** oopses, BUGs, warnings the kernel logged during the run */
      problems: z.array(z.string()),
      /** the kernel log of the run (fault dumps, warnings), message texts one per line */
      kmsg: z.string(),
    }),
  ),
});
export type CommandResult = z.infer<typeof CommandResult>;

/** When the guest got where, on its CLOCK_MONOTONIC (ms since the kernel started its clock). */
export const BootMarks = z.strictObject({
  /** the kernel ran init ("Run ... as init process" in the kernel log); null once the log wrapped */
  initExecMs: z.number().nullable(),
  /** Node's process started (process.uptime() back from the agent's first line) */
  nodeStartMs: z.number(),
  /** the agent's module body started: Node and every import loaded */
  agentStartMs: z.number(),
  /** the addon was loaded (its first call returned) */
  addonLoadedMs: z.number(),
  /** the ready message was sent */
  readyMs: z.number(),
});
export type BootMarks = z.infer<typeof BootMarks>;

export const BenchResult = z.strictObject({
  /** null when argv was null, or the program was killed */
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  timedOut: z.boolean(),
  stdout: z.string(),
  stderr: z.string(),
  /** wall time of the program, measured by the agent */
  ms: z.number().nonnegative(),
  /** the agent's peak RSS so far (getrusage) */
  agentMaxRssKiB: z.number().nonnegative(),
  boot: BootMarks,
});
export type BenchResult = z.infer<typeof BenchResult>;

/** How a kfault shell program ended, and (without a tty) what it printed. */
export const ShellResult = z.strictObject({
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  timedOut: z.boolean(),
  /** base64 of its stdout and stderr (empty with a tty), at most SHELL_OUTPUT_MAX bytes each */
  stdout: z.string(),
  stderr: z.string(),
  /** it printed more than that: the rest was dropped */
  cut: z.boolean(),
  /** where it ran: the host's working dir as the guest sees it, or the agent's work dir */
  cwd: z.string(),
});
export type ShellResult = z.infer<typeof ShellResult>;
export { SHELL_OUTPUT_MAX } from './protocol-limits.js';

/** The result schema for each request type, checked by the host on every reply. */
/** An unarmed traced run: the syscalls the program made after its execve, in order of first use. */
export const CommandTrace = z.strictObject({
  run: ProgramRun,
  syscalls: z.array(z.strictObject({ name: z.string(), count: z.number().int().positive() })),
});
export type CommandTrace = z.infer<typeof CommandTrace>;

export const ResultOf = {
  sweep: SweepDone,
  sweeps: z.strictObject({ swept: z.number().int().nonnegative() }),
  command: CommandResult,
  commandTrace: CommandTrace,
  commandSweep: SweepDone,
  functionTrace: FunctionTrace,
  functionSweep: SweepDone,
  faults: z.strictObject({
    /** snapshot: attribute -> value; capabilities: the attribute files that exist (value "") */
    state: z.record(z.string(), z.string()),
    attributes: z.number().int(),
    changed: z.number().int(),
    mismatches: z.array(z.string()),
  }),
  stress: StressResult,
  kmemleak: KmemleakState,
  modules: z.array(ModuleLoaded),
  harnesses: z.array(Harness),
  bench: BenchResult,
  shell: ShellResult,
  shutdown: z.null(),
} as const;

/** Parses one line; the error names what was wrong. */
export function parseLine<T>(schema: z.ZodType<T>, line: string, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new Error(`${what}: not JSON: ${line.slice(0, 200)}`);
  }
  const r = schema.safeParse(json);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${what}: ${issues}: ${line.slice(0, 200)}`);
  }
  return r.data;
}
