// The debugfs side of fail-nth, in the guest: which injectors count fail-nth, and putting
// their attributes back afterwards.
import { closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { loadBinding } from '../native.js';

const DEBUGFS = '/sys/kernel/debug';

/**
 * Settings that let fail-nth reach ordinary GFP_KERNEL allocations: by default failslab and
 * fail_page_alloc ignore allocations that may sleep, and fail_page_alloc ignores order 0.
 * verbose=2 logs a stack trace of every injected fault (read back from /dev/kmsg per step),
 * without the rate limit that would drop most of them. Messages at the default level (the stack
 * trace) are kept off the serial console, where printing them would cost more than the step.
 */
export const FAIL_NTH_SETTINGS: Record<string, string> = {
  'failslab/ignore-gfp-wait': 'N',
  'failslab/verbose': '2',
  'failslab/verbose_ratelimit_interval_ms': '0',
  'fail_page_alloc/ignore-gfp-wait': 'N',
  'fail_page_alloc/min-order': '0',
  'fail_page_alloc/verbose': '2',
  'fail_page_alloc/verbose_ratelimit_interval_ms': '0',
  '/proc/sys/kernel/printk': '5 7 1 7',
};

/** The injectors kfault drives by default; fail_usercopy, fail_futex and fail_make_request join
 * when the config names them (fail_make_request: on the scratch disks, see guest-disks.ts). */
export const ALLOC_INJECTORS = ['failslab', 'fail_page_alloc'] as const;
export const OPT_IN_INJECTORS = ['fail_usercopy', 'fail_futex', 'fail_make_request'] as const;

/** Global mode, per injector: every call may fail, in any task or interrupt. probability stays 0
 * here: the native loop turns it on through files it opened first. */
export function globalSettings(injectors: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const inj of injectors) {
    Object.assign(out, { [`${inj}/probability`]: '0', [`${inj}/interval`]: '1', [`${inj}/times`]: '-1', [`${inj}/space`]: '0', [`${inj}/verbose`]: '0', [`${inj}/task-filter`]: 'N' });
    if (inj === 'failslab' || inj === 'fail_page_alloc') out[`${inj}/ignore-gfp-wait`] = 'N';
  }
  if (injectors.includes('fail_page_alloc')) out['fail_page_alloc/min-order'] = '0';
  return out;
}

/** Random mode, per injector: faults only in the harness thread (make-it-fail + task-filter), at random. */
export function randomSettings(injectors: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const inj of injectors) {
    Object.assign(out, {
      [`${inj}/task-filter`]: 'Y', [`${inj}/probability`]: '10', [`${inj}/interval`]: '1', [`${inj}/times`]: '-1', [`${inj}/space`]: '0',
      [`${inj}/verbose`]: '2', [`${inj}/verbose_ratelimit_interval_ms`]: '0',
    });
    if (inj === 'failslab' || inj === 'fail_page_alloc') out[`${inj}/ignore-gfp-wait`] = 'N';
  }
  if (injectors.includes('fail_page_alloc')) out['fail_page_alloc/min-order'] = '0';
  out['/proc/sys/kernel/printk'] = '5 7 1 7';
  return out;
}

/**
 * fail-nth counts every injector's should_fail() in the task, not only allocations: with
 * fail_usercopy every copy to or from user space would be a step (and a sweep of allocation
 * failures would mostly test EFAULT). An empty stack filter with stacktrace-depth 0 makes the
 * kernel's fail_stacktrace() say no before fail-nth is counted down, so these injectors take no
 * steps unless the config names them (only where the kernel has them and their filter files).
 * Named, they log every failure with its stack trace, as the allocation injectors do.
 */
export function optInSettings(named: (inj: string) => boolean, has: (path: string) => boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const inj of OPT_IN_INJECTORS) {
    if (named(inj)) Object.assign(out, { [`${inj}/verbose`]: '2', [`${inj}/verbose_ratelimit_interval_ms`]: '0' }); // call sites, as for allocations
    else if (has(`${inj}/stacktrace-depth`)) Object.assign(out, { [`${inj}/require-start`]: '0', [`${inj}/require-end`]: '0', [`${inj}/stacktrace-depth`]: '0' });
  }
  return out;
}

export const hasAttr = (path: string) => existsSync(attr(path));

/** Relative paths are debugfs attributes. */
function attr(path: string): string {
  return path.startsWith('/') ? path : `${DEBUGFS}/${path}`;
}

const norm = (s: string) => s.trim().split(/\s+/).join(' ');

/** Every fault-injection attribute's value: each /sys/kernel/debug/fail* directory (and
 * fail_function's per-function retval), plus the agent's own make-it-fail. */
export type FaultState = Map<string, string>;

/** One attribute's value, through one buffer: open, read, close. (The attributes cannot stay
 * open and be read again at offset 0: debugfs opens them non-seekable.) */
const readBuf = Buffer.alloc(4096);
function readAttr(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const len = readSync(fd, readBuf, 0, readBuf.length, null);
    return len < readBuf.length ? norm(readBuf.toString('utf8', 0, len)) : norm(readFileSync(path, 'utf8'));
  } finally {
    closeSync(fd);
  }
}

/** Read from C in one call (native/attrs.cc): from JavaScript, an open, a read and a close per
 * file cost about 0.2 ms each under TCG, and a sweep reads them all back after every run. */
export function snapshotFaultState(): FaultState {
  const state: FaultState = new Map();
  if (existsSync(DEBUGFS)) for (const [key, value] of Object.entries(loadBinding().readTree(DEBUGFS, 'fail'))) state.set(key, norm(value));
  state.set('/proc/self/make-it-fail', readAttr('/proc/self/make-it-fail'));
  return state;
}

/** The writes that set an attribute. fail_function/inject is a list: clear it, then add each
 * function back, one per write (the kernel takes one symbol per write). */
export function attrWrites(path: string, value: string): string[] {
  if (path.endsWith('fail_function/inject')) return ['\n', ...value.split(' ').filter(Boolean)];
  return [value];
}

/** Faults are armed only in a kfault guest (kfault.guest=1, the check native/guest.c makes):
 * every JavaScript write of fault state checks it first, as the C code does. */
export function assertInGuest(): void {
  if (!loadBinding().inGuest()) throw Object.assign(new Error('refusing to arm fault injection outside a kfault guest (no kfault.guest=1 on the kernel command line)'), { code: 'KFAULT_NOT_GUEST' });
}

function writeAttr(path: string, value: string): void {
  assertInGuest();
  for (const v of attrWrites(path, value)) writeFileSync(attr(path), v);
}

/** Writes a snapshot back (inject before the retval files it creates) and reads it again. */
export function restoreFaultState(saved: FaultState): string[] {
  return restoreTo(saved).wrong;
}

/**
 * Reads every attribute, writes back only those that differ from saved (inject before the retval
 * files it creates) and reads those again: every attribute is checked, as with writing them all,
 * at a fraction of the cost (a sweep changes a few: its settings, and times, which injections
 * count down). A rewritten inject list recreates retval files: then everything is read again.
 * now: the state as read back, which is saved's when wrong is empty.
 */
function restoreTo(saved: FaultState): { wrong: string[]; now: FaultState } {
  const now = snapshotFaultState();
  // inject first (it recreates retval files); task-filter last, so that a filter that keeps
  // random faults off everyone goes only once probability and times are back
  const rank = (k: string) => (k.endsWith('/inject') ? 0 : k.endsWith('/task-filter') ? 2 : 1);
  const keys = [...saved.keys()].filter((k) => now.get(k) !== saved.get(k)).sort((a, b) => rank(a) - rank(b));
  const wrong: string[] = [];
  for (const k of keys) {
    try {
      if (existsSync(attr(k))) writeAttr(k, saved.get(k)!);
    } catch (e) {
      wrong.push(`${k}: writing ${saved.get(k)}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
  }
  if (keys.some((k) => k.endsWith('/inject'))) {
    const again = snapshotFaultState();
    for (const [k, v] of saved) if (again.get(k) !== v) wrong.push(`${k}: wanted ${v}, reads ${again.get(k)}`);
    return { wrong, now: again };
  }
  for (const k of keys) {
    let v: string | undefined;
    try {
      v = readAttr(attr(k));
      now.set(k, v);
    } catch {
      now.delete(k);
    }
    if (v !== saved.get(k)) wrong.push(`${k}: wanted ${saved.get(k)}, reads ${v}`);
  }
  return { wrong, now };
}

/** A different valid value for an attribute, for the round-trip check. */
function another(key: string, value: string): string | null {
  if (/\/inject$|\/retval$|\/stacktrace-depth$|make-it-fail$/.test(key)) return null;
  if (value === 'Y' || value === 'N') return value === 'Y' ? 'N' : 'Y';
  if (/^0x[0-9a-f]+$/i.test(value)) {
    const v = BigInt(value);
    return `0x${(v > 1n << 63n ? v - 0x10n : v + 0x10n).toString(16)}`; // require-end starts at ULONG_MAX
  }
  if (/^-?\d+$/.test(value)) return String(Number(value) + 3);
  return null;
}

/** Changes every attribute that takes a plain value, restores the snapshot, and compares. */
export function faultStateRoundTrip(): { attributes: number; changed: number; mismatches: string[] } {
  const before = snapshotFaultState();
  let changed = 0;
  const mismatches: string[] = [];
  // task-filter first: once it is Y only tasks with make-it-fail fail (none here), so the raised
  // probability and times below cannot inject at random into the agent and the kernel meanwhile
  const order = [...before].sort(([a], [b]) => Number(b.endsWith('/task-filter')) - Number(a.endsWith('/task-filter')));
  try {
    for (const [k, v] of order) {
      const other = another(k, v);
      if (other === null) continue;
      try {
        writeAttr(k, other);
      } catch (e) {
        mismatches.push(`${k}: writing ${other}: ${(e as NodeJS.ErrnoException).code ?? e}`);
        continue;
      }
      const reads = norm(readFileSync(attr(k), 'utf8'));
      if (reads === v) mismatches.push(`${k}: writing ${other} did not change it`);
      else changed++;
    }
  } finally {
    mismatches.push(...restoreFaultState(before));
  }
  return { attributes: before.size, changed, mismatches };
}

/**
 * The fault state as the last restore read it back and checked: the state to restore to next
 * time, without reading it all again first. Only the agent's own requests run between two of
 * them; it forgets this before any request that could change fault state outside
 * withFaultSettings (a program of the user's, a module's init).
 */
let known: FaultState | null = null;

export function forgetFaultState(): void {
  known = null;
}

/** Writes settings, runs fn, then puts every fault-injection attribute back as it was (not only
 * the ones written: a harness or a failed write in between cannot leave anything armed) and
 * checks it. Paths outside debugfs (sysctls) are saved and restored one by one. */
export async function withFaultSettings<T>(settings: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  assertInGuest();
  const state = known ?? snapshotFaultState();
  known = null;
  const saved = new Map<string, string>();
  for (const path of Object.keys(settings).filter((p) => p.startsWith('/') && !state.has(p))) saved.set(path, norm(readFileSync(path, 'utf8')));
  try {
    for (const [path, value] of Object.entries(settings)) writeAttr(path, value);
    return await fn();
  } finally {
    const { wrong, now } = restoreTo(state);
    for (const [path, value] of saved) {
      writeFileSync(path, value);
      const now = norm(readFileSync(path, 'utf8'));
      if (now !== value) wrong.push(`${path}: wanted ${value}, reads ${now}`);
    }
    if (wrong.length) throw new Error(`fault state not restored: ${wrong.join('; ')}`);
    known = now;
  }
}
