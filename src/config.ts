// kfault's configuration: defaults in one object, types inferred from the schema, cross-field
// checks as small pure functions run by the schema, errors printed one per line with their dotted path.
import { z } from 'zod';
import { FaultsConfig, requiredFiles } from './fault-knobs.js';
import { globalModeProblems } from './global-mode.js';

export { globalModeProblems };

export const KERNEL_PROFILES = ['block'] as const;
export type KernelProfile = (typeof KERNEL_PROFILES)[number];
export const DISK_FILESYSTEMS = ['ext4', 'ext3', 'ext2'] as const;
/** A scratch disk: size in bytes, and the filesystem made on it (null: a raw disk). */
export interface Disk {
  size: number;
  fs: (typeof DISK_FILESYSTEMS)[number] | null;
}
const DISK_MIN = 1 << 20;
const DISK_MAX = 64 * (1 << 30);
/** ext4 with a journal needs a few MiB; mke2fs refuses smaller with a message about blocks */
const FS_MIN = 4 << 20;

export const defaults = {
  kernel: {
    /** Debian's linux-source package, unpacked and built with kernel/kfault.config */
    source: 'linux-source-6.12',
    tree: undefined as string | undefined,
    image: undefined as string | undefined,
    fragments: [] as string[],
    patches: undefined as string | undefined,
    /** add kernel/kasan.config (generic KASAN): use-after-free on error paths is reported */
    kasan: false,
    /** extra kernel profiles, each a fragment of its own in kernel/ and a kernel of its own in
     * the cache: block (kernel/block.config: block layer, virtio-blk, ext4, fail_make_request,
     * fail_function, kprobe events) */
    profiles: [] as KernelProfile[],
  },
  machine: {
    accel: 'auto' as 'auto' | 'kvm' | 'tcg',
    cpus: 2,
    memoryMiB: 1024,
    bootTimeoutMs: 120_000,
    requestTimeoutMs: 600_000,
    /** a sweep that reports no step for this long has hung the guest: it is killed and booted again */
    stepTimeoutMs: 60_000,
    kvmProbeMs: 15_000,
    cmdline: [] as string[],
    /** scratch disks, each a sparse file kfault makes for the guest (virtio-blk, serial
     * kfault<i>) and removes; with an fs, made by mke2fs and mounted at /mnt/kfault<i> */
    disks: [] as Disk[],
  },
  sweep: {
    /** systematic: fail-nth 1, 2, 3...; random: make-it-fail on the harness thread with the
     * injectors' probability, iterations runs; global: every task, for seconds */
    mode: 'systematic' as 'systematic' | 'random' | 'global',
    iterations: 1000,
    seconds: 10,
    maxSteps: 1000,
    /** keep injected faults out of kmemleak's own allocations (stack filter), when kmemleak is on */
    kmemleakFilter: true,
  },
  /** out-of-tree kernel modules the guest loads before sweeping: a kbuild directory (built
   * against the kernel) or a .ko built for it; params as insmod takes them */
  modules: [] as Array<{ path: string; params?: string }>,
  kmemleak: {
    /** after a batch of sweeps: scan, wait, scan, and tie every leak to its step */
    check: true,
    /** functions whose leaks are known and not reported (any frame of the backtrace) */
    suppress: [] as string[],
  },
  /** what `kfault sweep` sweeps when the command line names nothing: catalogue names and
   * C files (FILE.c or FILE.c:ARG); empty: the whole catalogue */
  harnesses: [] as string[],
  logDir: '.kfault',
};

const Kernel = z.strictObject({
  source: z.string().regex(/^linux-source-\d+\.\d+$/, 'expected a Debian package name like linux-source-6.12').default(defaults.kernel.source),
  tree: z.string().min(1).optional(),
  image: z.string().min(1).optional(),
  fragments: z.array(z.string().min(1)).default(defaults.kernel.fragments),
  patches: z.string().min(1).optional(),
  kasan: z.boolean().default(defaults.kernel.kasan),
  profiles: z.array(z.enum(KERNEL_PROFILES)).default(defaults.kernel.profiles),
});

const SIZE_UNITS: Record<string, number> = { '': 1, K: 1 << 10, M: 1 << 20, G: 1 << 30 };

/** "64M", "1G", "512K" (binary units) or a number of bytes. */
export function parseDiskSize(text: string): number | null {
  const m = /^(\d+)([KMG]?)(?:i?B)?$/i.exec(text.trim());
  return m ? Number(m[1]) * SIZE_UNITS[m[2]!.toUpperCase()]! : null;
}

/** "SIZE[:FS]" as --disk takes it, or the object form; anything else is left for zod to name. */
function diskSpec(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const [size, fs, ...rest] = v.split(':');
  if (rest.length) return { spec: v, size: DISK_MIN }; // only spec's error is said
  return { size, fs: fs === undefined || fs === '' || fs === 'raw' ? null : fs };
}

const DiskSchema = z.preprocess(
  diskSpec,
  z.strictObject({
    spec: z.never({ error: 'expected SIZE or SIZE:FS, e.g. 64M:ext4' }).optional(),
    // a number too: a parsed config (sizes in bytes) parses again to itself
    size: z.union([z.number(), z.string()]).transform((v, ctx) => {
      const n = typeof v === 'number' ? v : parseDiskSize(v);
      if (n === null || !Number.isInteger(n)) {
        ctx.addIssue({ code: 'custom', message: 'expected a size like 64M, 1G or 512K (binary units)' });
        return z.NEVER;
      }
      if (n < DISK_MIN || n > DISK_MAX || n % 512) {
        ctx.addIssue({ code: 'custom', message: `expected a size from 1M to 64G, a multiple of 512 bytes (${n} bytes)` });
        return z.NEVER;
      }
      return n;
    }),
    fs: z.enum(DISK_FILESYSTEMS, { error: (i) => `expected a filesystem kfault can make and check: ${DISK_FILESYSTEMS.join(', ')} (or none, for a raw disk)` }).nullable().default(null),
  }).superRefine((d, ctx) => {
    if (d.fs && d.size < FS_MIN) ctx.addIssue({ code: 'custom', path: ['size'], message: `${d.fs} needs a disk of 4M at least; got ${d.size} bytes` });
  }),
);

const Machine = z.strictObject({
  accel: z.enum(['auto', 'kvm', 'tcg']).default(defaults.machine.accel),
  cpus: z.number().int().min(1).max(64).default(defaults.machine.cpus),
  memoryMiB: z.number().int().min(256).max(65536).default(defaults.machine.memoryMiB),
  bootTimeoutMs: z.number().int().min(1000).default(defaults.machine.bootTimeoutMs),
  requestTimeoutMs: z.number().int().min(1000).default(defaults.machine.requestTimeoutMs),
  stepTimeoutMs: z.number().int().min(1000).default(defaults.machine.stepTimeoutMs),
  kvmProbeMs: z.number().int().min(1000).default(defaults.machine.kvmProbeMs),
  cmdline: z.array(z.string().regex(/^\S+$/, 'expected one kernel parameter without spaces')).default(defaults.machine.cmdline),
  disks: z.array(DiskSchema).max(8, 'expected 8 scratch disks at most').default(defaults.machine.disks),
});

const Sweep = z.strictObject({
  mode: z.enum(['systematic', 'random', 'global']).default(defaults.sweep.mode),
  iterations: z.number().int().min(1).max(1_000_000).default(defaults.sweep.iterations),
  seconds: z.number().int().min(1).max(3600).default(defaults.sweep.seconds),
  maxSteps: z.number().int().min(1).max(1_000_000).default(defaults.sweep.maxSteps),
  kmemleakFilter: z.boolean().default(defaults.sweep.kmemleakFilter),
});

const Module = z.strictObject({
  path: z.string().min(1),
  params: z.string().default(''),
});

const Kmemleak = z.strictObject({
  check: z.boolean().default(defaults.kmemleak.check),
  suppress: z.array(z.string().regex(/^[A-Za-z_][\w.]*$/, 'expected a function name, as kmemleak prints it in a backtrace')).default(defaults.kmemleak.suppress),
});

/** The schema with the cross-field checks (below), each problem at its dotted path: a library
 * user parsing with it gets exactly the errors kfault's CLI prints. */
export const ConfigSchema = z.strictObject({
  /** a kfault.config.json's editor hint ("./node_modules/kfault/schema.json"); kfault ignores it */
  $schema: z.string().optional(),
  kernel: Kernel.default({ ...defaults.kernel }),
  machine: Machine.default({ ...defaults.machine }),
  sweep: Sweep.default({ ...defaults.sweep }),
  modules: z.array(z.preprocess((v) => (typeof v === 'string' ? { path: v } : v), Module)).default([]),
  kmemleak: Kmemleak.default({ ...defaults.kmemleak }),
  /** every fault-injection knob, per injector (see src/fault-knobs.ts and the README's table) */
  faults: FaultsConfig.default({}),
  harnesses: z.array(z.string().min(1)).default(defaults.harnesses),
  logDir: z.string().min(1).default(defaults.logDir),
}).superRefine((config, ctx) => {
  for (const p of crossChecks.flatMap((check) => check(config))) ctx.addIssue({ code: 'custom', path: p.path.split('.'), message: p.message });
});

export type Config = z.infer<typeof ConfigSchema>;
export type UserConfig = z.input<typeof ConfigSchema>;

/** For kfault.config.ts / .mjs: `export default defineConfig({ ... })`, typed. */
export function defineConfig(config: UserConfig): UserConfig {
  return config;
}

export interface ConfigProblem {
  path: string;
  message: string;
}

/** Only one of source, tree and image picks the kernel. */
export function checkKernelChoice(c: Config): ConfigProblem[] {
  if (c.kernel.tree && c.kernel.image) {
    return [{ path: 'kernel.image', message: 'give either kernel.tree or kernel.image, not both' }];
  }
  return [];
}

/** Patches and fragments are applied to a source that kfault builds; a prebuilt image has none. */
export function checkImageExtras(c: Config): ConfigProblem[] {
  if (!c.kernel.image) return [];
  const out: ConfigProblem[] = [];
  if (c.kernel.fragments.length) out.push({ path: 'kernel.fragments', message: 'cannot apply config fragments to a prebuilt kernel.image' });
  if (c.kernel.patches) out.push({ path: 'kernel.patches', message: 'cannot apply patches to a prebuilt kernel.image' });
  if (c.kernel.kasan) out.push({ path: 'kernel.kasan', message: 'cannot add KASAN to a prebuilt kernel.image; build it with CONFIG_KASAN instead' });
  if (c.kernel.profiles.length) out.push({ path: 'kernel.profiles', message: `cannot add the ${c.kernel.profiles.join(', ')} profile to a prebuilt kernel.image; build it with the options of kernel/${c.kernel.profiles[0]}.config instead` });
  return out;
}

/** fail-nth bypasses probability, interval, times and space: setting them in systematic mode is a mistake. */
export function checkModeKnobs(c: Config): ConfigProblem[] {
  if (c.sweep.mode !== 'systematic') return [];
  const out: ConfigProblem[] = [];
  for (const [inj, knobs] of Object.entries(c.faults) as Array<[string, Record<string, unknown> | undefined]>) {
    for (const k of ['probability', 'interval', 'times', 'space']) {
      if (knobs?.[k] !== undefined) out.push({ path: `faults.${inj}.${k}`, message: `fail-nth ignores ${k}; it applies with sweep.mode random or global` });
    }
  }
  return out;
}

/** retval is what fail_function's injected functions return: it needs inject. */
export function checkFailFunction(c: Config): ConfigProblem[] {
  const f = c.faults.fail_function;
  if (f?.retval !== undefined && !f.inject?.length) return [{ path: 'faults.fail_function.retval', message: 'give the functions to fail in faults.fail_function.inject' }];
  return [];
}

/** fail_make_request fails I/O to disks with make-it-fail set: kfault sets it on the scratch disks. */
export function checkMakeRequest(c: Config): ConfigProblem[] {
  if (!c.faults.fail_make_request || c.machine.disks.length) return [];
  return [{ path: 'faults.fail_make_request', message: 'fails I/O to the scratch disks only, and there is none: give one with --disk SIZE[:FS] (machine.disks), e.g. --disk 64M:ext4' }];
}

export function checkGlobalMode(c: Config): ConfigProblem[] {
  return c.sweep.mode === 'global' ? globalModeProblems(c.faults) : [];
}

const crossChecks = [checkKernelChoice, checkImageExtras, checkModeKnobs, checkFailFunction, checkMakeRequest, checkGlobalMode];

export class ConfigError extends Error {
  readonly exitCode = 2;
  constructor(readonly problems: ConfigProblem[]) {
    super(formatProblems(problems));
    this.name = 'ConfigError';
  }
}

export function formatProblems(problems: ConfigProblem[]): string {
  return ['invalid kfault configuration:', ...problems.map((p) => `  ${p.path || '(root)'}: ${p.message}`)].join('\n');
}

/** zod's message, and what was given when it is a plain value (zod says what was expected). */
export function withInput(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  if (issue.code === 'unrecognized_keys') return unrecognized(issue.keys, knownKeys(ConfigSchema, issue.path));
  if (input === undefined || (typeof input === 'object' && input !== null)) return issue.message;
  const message = issue.code === 'invalid_type' ? issue.message.replace(/, received \w+$/, '') : issue.message;
  return `${message}; got ${JSON.stringify(input)}`;
}

/** The keys the object schema at path takes (through defaults, optionals, arrays and pipes). */
export function knownKeys(schema: z.ZodType, path: PropertyKey[]): string[] {
  let def = (schema as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
  const next = (t: unknown) => (def = (t as { _zod: { def: Record<string, unknown> } })._zod.def);
  for (let i = 0; ; ) {
    if (def.type === 'default' || def.type === 'optional' || def.type === 'nullable') next(def.innerType);
    else if (def.type === 'pipe') next(def.out);
    else if (def.type === 'array' && i < path.length) {
      next(def.element);
      i++;
    } else if (def.type === 'object' && i < path.length) {
      const child = (def.shape as Record<string, unknown>)[String(path[i])];
      if (!child) return [];
      next(child);
      i++;
    } else return def.type === 'object' ? Object.keys(def.shape as object) : [];
  }
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const here = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      prev = here;
    }
  }
  return d[b.length]!;
}

/** "Unrecognized key" with the key a typo most likely meant, or the keys there are. */
function unrecognized(keys: string[], known: string[]): string {
  return keys
    .map((k) => {
      const near = known.filter((c) => editDistance(k, c) <= 2).sort((a, b) => editDistance(k, a) - editDistance(k, b))[0];
      return `unknown key "${k}"; ${near ? `did you mean "${near}"?` : `expected one of ${known.join(', ')}`}`;
    })
    .join('; ');
}

/** Validates a config (the schema and its cross-field checks); throws ConfigError listing
 * every problem. The files it names are checked by checkedConfig (src/sweep-batch.ts). */
export function parseConfig(input: unknown): Config {
  const r = ConfigSchema.safeParse(input ?? {}, { reportInput: true });
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => ({ path: i.path.join('.'), message: withInput(i) })));
  }
  return r.data;
}

/**
 * After boot: every fault directory and attribute the config touches must exist in the running
 * kernel; a missing one is named with the option that provides it (not ENOENT). present: the
 * guest's attribute paths (relative to debugfs), as Guest.faultState('capabilities') gives them.
 */
export function checkKernelSupports(faults: Config['faults'], present: Record<string, string>): void {
  const have = new Set(Object.keys(present));
  const dirs = new Set(Object.keys(present).map((p) => p.split('/')[0]!));
  const problems: ConfigProblem[] = [];
  for (const r of requiredFiles(faults)) {
    const isDir = !r.file.includes('/');
    if (isDir ? dirs.has(r.file) : have.has(r.file)) continue;
    if (!isDir && !dirs.has(r.file.split('/')[0]!)) continue; // the directory is reported once
    problems.push({ path: r.configPath, message: `this kernel has no /sys/kernel/debug/${r.file}: build it with ${r.option}=y` });
  }
  if (problems.length) throw new ConfigError(problems);
}
