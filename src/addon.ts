// Typed facade over the native binding: what the guest agent calls.
import { errnoName } from './errno.js';
import { parseFaultSites } from './kmsg/fault-trace.js';
import { loadBinding, type NativeSteps } from './native.js';
import { openStepTraces } from './guest/fault-trace-events.js';
import type { Harness, Step } from './protocol.js';

export function harnesses(): Harness[] {
  return loadBinding().harnesses();
}

export function inGuest(): boolean {
  return loadBinding().inGuest();
}

/** Global random injection while a harness runs in a loop; see native/stress.c. */
export function stress(name: string, dir: string, ms: number, probabilityPaths: string[], probabilities: number[]) {
  return loadBinding().stress(name, dir, ms, probabilityPaths, probabilities);
}

let catalogue: Set<string> | undefined;

export interface SweepTarget {
  /** the catalogue's name, or the label of a user's harness */
  harness: string;
  /** a user's harness: its shared object, as the guest sees it */
  library: string | null;
  arg: string;
}

/**
 * Sweeps one harness with fail-nth = first, first+1, ... on a native thread of its own;
 * onStep gets each step as soon as it is done. dir: a writable tmpfs dir.
 */
export async function sweep(target: SweepTarget, dir: string, steps: NativeSteps, onStep: (s: Step) => void): Promise<{ complete: boolean }> {
  const binding = loadBinding();
  // the catalogue is compiled in: its names are asked for once, not on every sweep
  catalogue ??= new Set(binding.harnesses().map((h) => h.name));
  if (!target.library && !catalogue.has(target.harness)) {
    const known = [...catalogue].join(', ');
    throw Object.assign(new Error(`unknown harness '${target.harness}'; the catalogue has: ${known}`), { code: 'KFAULT_UNKNOWN_HARNESS' });
  }
  const native = target.library ? { library: target.library, arg: target.arg } : { harness: target.harness };
  // every step's trace is taken (and dropped when the kernel log had the fault's own trace)
  const traces = openStepTraces();
  try {
    return await binding.sweep(native, dir, steps, (s) => {
      const traced = traces?.of(s.nth) ?? { text: '', site: null };
      // random mode knows a fault struck from the kernel log, where a __GFP_NOWARN one is silent
      const injected = s.injected || (steps.random === true && traced.site !== null);
      const logged = injected ? (parseFaultSites(s.kmsg)[0] ?? null) : null;
      const fault = injected ? (logged ?? traced.site) : null;
      onStep({ ...s, injected, errno: errnoName(s.ret), fault, trace: fault && !logged ? traced.text : '' });
    });
  } finally {
    traces?.close();
  }
}

/** Loads a kernel module in the guest (finit_module). */
export function loadModule(path: string, params: string): 'loaded' | 'already loaded' {
  return loadBinding().loadModule(path, params);
}
