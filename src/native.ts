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
  ns: number;
  /** what the kernel logged during the step (/dev/kmsg message texts, one per line) */
  kmsg: string;
}

export interface NativeSweep {
  harness: string;
  steps: NativeStep[];
  /** the sweep ended at a step where nothing was injected */
  complete: boolean;
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

export interface NativeBinding {
  harnesses(): NativeHarness[];
  /** true only when /proc/cmdline carries the kfault guest marker */
  inGuest(): boolean;
  /** Sweeps one harness on a pool thread; rejects with KFAULT_NOT_GUEST outside a kfault guest. */
  sweep(name: string, dir: string, maxSteps: number): Promise<NativeSweep>;
  /** Runs a harness in a loop for ms while each probability file reads 100 (global injection). */
  stress(name: string, dir: string, ms: number, probabilityPaths: string[]): Promise<NativeStress>;
}

const require = createRequire(import.meta.url);

let binding: NativeBinding | undefined;

export function loadBinding(): NativeBinding {
  binding ??= require('../build/Release/kfault.node') as NativeBinding;
  return binding;
}
