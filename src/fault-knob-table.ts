// Every fault-injection knob kfault can set: one table of the kernel's debugfs attributes
// (Documentation/fault-injection/fault-injection.rst), from which the config schema
// (fault-knobs.ts), the debugfs writes, the kernel checks and the README's knob table are all
// derived. No zod here: the guest agent imports this, and every module it loads costs its boot.
import type { FaultsConfig } from './fault-knobs.js';

/** A stack-filter range: one function (its whole text), or [first, last] (first's start to last's end). */
export type SymbolRange = string | [string, string];

/** What a knob's value is: fault-knobs.ts has the zod schema of each. */
export type KnobType = 'boolean' | 'int' | 'symbolRange' | 'functions';

export interface Knob {
  /** the debugfs attribute */
  file: string;
  /** what the config takes (fault-knobs.ts makes the zod schema of it); int: within min..max */
  type: KnobType;
  min?: number;
  max?: number;
  range: string;
  meaning: string;
  /** the option that provides the attribute, when it is not the injector's own */
  config?: string;
  kernelDefault: string;
}

const STACK = 'CONFIG_FAULT_INJECTION_STACKTRACE_FILTER';

/** Attributes every fault_attr directory has. */
export const COMMON_KNOBS = {
  probability: { file: 'probability', type: 'int', min: 0, max: 100, range: '0-100', meaning: 'percent of calls that fail (random and global modes; fail-nth ignores it)', kernelDefault: '0' },
  interval: { file: 'interval', type: 'int', min: 1, range: '>= 1', meaning: 'only every interval-th call may fail', kernelDefault: '1' },
  times: { file: 'times', type: 'int', min: -1, range: '-1 or >= 0', meaning: 'how many failures at most; -1: no limit (the default 1 stops after the first failure)', kernelDefault: '1' },
  space: { file: 'space', type: 'int', min: 0, range: '>= 0', meaning: 'bytes of allocations to let through before failing', kernelDefault: '0' },
  verbose: { file: 'verbose', type: 'int', min: 0, max: 2, range: '0-2', meaning: '0: quiet, 1: one line per failure, 2: and a stack trace (kfault needs 2 for call sites)', kernelDefault: '2' },
  verboseRatelimitIntervalMs: { file: 'verbose_ratelimit_interval_ms', type: 'int', min: 0, range: '>= 0', meaning: 'rate limit of those messages: interval', kernelDefault: '5000' },
  verboseRatelimitBurst: { file: 'verbose_ratelimit_burst', type: 'int', min: 0, range: '>= 0', meaning: 'rate limit of those messages: burst', kernelDefault: '10' },
  taskFilter: { file: 'task-filter', type: 'boolean', range: 'true/false', meaning: 'fail only in tasks with make-it-fail=1', kernelDefault: 'N' },
  require: { file: 'require-start', type: 'symbolRange', range: 'function or [first, last]', meaning: 'fail only when the stack has an address in this text', config: STACK, kernelDefault: 'none' },
  reject: { file: 'reject-start', type: 'symbolRange', range: 'function or [first, last]', meaning: 'never fail when the stack has an address in this text', config: STACK, kernelDefault: 'none' },
  stacktraceDepth: { file: 'stacktrace-depth', type: 'int', min: 1, max: 32, range: '1-32', meaning: 'stack frames the require/reject filter looks at', config: STACK, kernelDefault: '32' },
} satisfies Record<string, Knob>;

/** Each injector's debugfs directory, the option that provides it, and its own attributes. */
export const INJECTORS = {
  failslab: {
    config: 'CONFIG_FAILSLAB',
    what: 'slab allocations (kmalloc, kmem_cache_alloc)',
    knobs: {
      ignoreGfpWait: { file: 'ignore-gfp-wait', type: 'boolean', range: 'true/false', meaning: 'leave allocations that may sleep alone (true hides every GFP_KERNEL allocation)', kernelDefault: 'Y' },
      cacheFilter: { file: 'cache-filter', type: 'boolean', range: 'true/false', meaning: 'fail only caches marked with /sys/kernel/slab/*/failslab', kernelDefault: 'N' },
    },
  },
  fail_page_alloc: {
    config: 'CONFIG_FAIL_PAGE_ALLOC',
    what: 'page allocations',
    knobs: {
      ignoreGfpWait: { file: 'ignore-gfp-wait', type: 'boolean', range: 'true/false', meaning: 'leave allocations that may sleep alone', kernelDefault: 'Y' },
      ignoreGfpHighmem: { file: 'ignore-gfp-highmem', type: 'boolean', range: 'true/false', meaning: 'leave highmem allocations alone', kernelDefault: 'Y' },
      minOrder: { file: 'min-order', type: 'int', min: 0, max: 10, range: '0-10', meaning: 'fail only allocations of this order or more (the default 1 hides every order-0 page)', kernelDefault: '1' },
    },
  },
  fail_futex: {
    config: 'CONFIG_FAIL_FUTEX',
    what: 'futex operations (EFAULT, EAGAIN...)',
    knobs: {
      ignorePrivate: { file: 'ignore-private', type: 'boolean', range: 'true/false', meaning: 'leave process-private futexes alone', kernelDefault: 'N' },
    },
  },
  fail_usercopy: { config: 'CONFIG_FAULT_INJECTION_USERCOPY', what: 'copies from and to user space', knobs: {} },
  fail_make_request: { config: 'CONFIG_FAIL_MAKE_REQUEST', what: 'block I/O requests (per disk: /sys/block/*/make-it-fail)', knobs: {} },
  fail_function: {
    config: 'CONFIG_FAIL_FUNCTION',
    what: 'functions marked ALLOW_ERROR_INJECTION, made to return retval',
    knobs: {
      inject: { file: 'inject', type: 'functions', range: 'function names', meaning: 'the functions to fail (each must be on the error-injection list)', kernelDefault: 'none' },
      retval: { file: 'retval', type: 'int', range: 'integer', meaning: 'what they return when failed (e.g. -12 for -ENOMEM)', kernelDefault: 'per function' },
    },
  },
} as const;

export type InjectorName = keyof typeof INJECTORS;
export const INJECTOR_NAMES = Object.keys(INJECTORS) as InjectorName[];

type InjectorKnobs = Record<string, unknown>;

export function knobOf(injector: InjectorName, key: string): Knob {
  return ((COMMON_KNOBS as Record<string, Knob>)[key] ?? (INJECTORS[injector].knobs as Record<string, Knob>)[key])!;
}

/** The debugfs files a config touches, and the option each needs: to check the running kernel. */
export function requiredFiles(faults: FaultsConfig): Array<{ path: string; configPath: string; file: string; option: string }> {
  const out: Array<{ path: string; configPath: string; file: string; option: string }> = [];
  for (const inj of INJECTOR_NAMES) {
    const knobs = faults[inj] as InjectorKnobs | undefined;
    if (!knobs) continue;
    out.push({ path: inj, configPath: `faults.${inj}`, file: inj, option: INJECTORS[inj].config });
    for (const key of Object.keys(knobs)) {
      if (knobs[key] === undefined || key === 'retval') continue;
      const k = knobOf(inj, key);
      out.push({ path: `${inj}/${k.file}`, configPath: `faults.${inj}.${key}`, file: `${inj}/${k.file}`, option: k.config ?? INJECTORS[inj].config });
    }
  }
  return out;
}

const yn = (b: unknown) => (b ? 'Y' : 'N');

/**
 * Pure: the debugfs writes for a config. Symbol ranges go through resolve (in the guest:
 * /proc/kallsyms), which returns [start, end) or a message naming what is wrong.
 */
export function knobSettings(faults: FaultsConfig, resolve: (r: SymbolRange) => [bigint, bigint] | string): { settings: Record<string, string>; problems: Array<{ path: string; message: string }> } {
  const settings: Record<string, string> = {};
  const problems: Array<{ path: string; message: string }> = [];
  for (const inj of INJECTOR_NAMES) {
    const knobs = faults[inj] as InjectorKnobs | undefined;
    if (!knobs) continue;
    for (const [key, value] of Object.entries(knobs)) {
      if (value === undefined) continue;
      const k = knobOf(inj, key);
      if (key === 'require' || key === 'reject') {
        const r = resolve(value as SymbolRange);
        if (typeof r === 'string') problems.push({ path: `faults.${inj}.${key}`, message: r });
        else {
          settings[`${inj}/${key}-start`] = `0x${r[0].toString(16)}`;
          settings[`${inj}/${key}-end`] = `0x${r[1].toString(16)}`;
        }
      } else if (key === 'inject') {
        settings[`${inj}/inject`] = (value as string[]).join(' '); // writeAttr writes each on its own
        // after inject, which makes each function's retval file; the file parses an unsigned
        // number (kstrtoull): -12 goes in as 2^64 - 12
        const retval = knobs.retval as number | undefined;
        if (retval !== undefined) for (const f of value as string[]) settings[`${inj}/${f}/retval`] = `0x${BigInt.asUintN(64, BigInt(retval)).toString(16)}`;
      } else if (key === 'retval') {
        // written with inject, above
      } else {
        settings[`${inj}/${k.file}`] = typeof value === 'boolean' ? yn(value) : String(value);
      }
    }
  }
  return { settings, problems };
}

/** The README's knob table, generated here so docs and code cannot drift. */
export function knobTable(): string {
  const rows = ['| knob (config key) | debugfs attribute | range | meaning | kernel default | needs |', '|---|---|---|---|---|---|'];
  for (const [key, k] of Object.entries(COMMON_KNOBS) as Array<[string, Knob]>) {
    const file = key === 'require' || key === 'reject' ? `${key}-start, ${key}-end` : k.file;
    rows.push(`| \`faults.<injector>.${key}\` | \`${file}\` | ${k.range} | ${k.meaning} | ${k.kernelDefault} | ${k.config ? `\`${k.config}\`` : "the injector's"} |`);
  }
  for (const inj of INJECTOR_NAMES) {
    const i = INJECTORS[inj];
    rows.push(`| \`faults.${inj}\` | \`/sys/kernel/debug/${inj}/\` | | ${i.what} | | \`${i.config}\` |`);
    for (const [key, k] of Object.entries(i.knobs) as Array<[string, Knob]>) {
      rows.push(`| \`faults.${inj}.${key}\` | \`${key === 'retval' ? '<function>/retval' : k.file}\` | ${k.range} | ${k.meaning} | ${k.kernelDefault} | \`${k.config ?? i.config}\` |`);
    }
  }
  return rows.join('\n');
}
