// In the guest: the call site of every injected fault, including those in __GFP_NOWARN
// allocations, for which fault injection logs no stack trace at all (FAULT_NOWARN skips
// fail_dump()). The kernel's allocation tracepoints fire after the attempt, with a NULL result
// when it failed, so a stacktrace trigger on them, filtered to failures, records where every
// failed allocation was made. They go to a tracing instance of kfault's own (its own buffer,
// events and options: the top-level tracing state is never touched); the sweep loop writes
// "kfault-step N" to its trace_marker before arming step N (native/sweep.c).
import { closeSync, existsSync, mkdirSync, openSync, readSync, rmdirSync, writeFileSync, constants } from 'node:fs';
import { parseTraceSites } from '../kmsg/fault-trace.js';
import type { FaultSite } from '../kmsg/fault-trace.js';

export const TRACEFS = '/sys/kernel/tracing';
export const INSTANCE = `${TRACEFS}/instances/kfault`;

/** The tracepoints, each with the filter that keeps only failed allocations. */
const EVENTS: Record<string, string> = {
  'kmem/kmem_cache_alloc': 'ptr == 0',
  'kmem/kmalloc': 'ptr == 0',
  'kmem/mm_page_alloc': 'pfn == 18446744073709551615', // -1UL: no page
  'percpu/percpu_alloc_percpu_fail': '',
};

export interface StepTraces {
  /** what the tracepoints recorded during step nth (failed allocations with their stacks) */
  of(nth: number): { text: string; site: FaultSite | null };
  close(): void;
}

/** Why there are no trace sites on this kernel, or null when there are. */
export function traceUnavailable(): string | null {
  if (!existsSync(`${TRACEFS}/events/kmem/kmalloc`)) return `no ${TRACEFS}/events/kmem: the kernel lacks CONFIG_FTRACE + CONFIG_ENABLE_DEFAULT_TRACERS (event tracing)`;
  return null;
}

/**
 * Creates the instance and enables the events (once per guest: enabling costs a few writes,
 * and the filtered events record nothing while no allocation fails). Returns null, with the
 * reason in why, when the kernel has no event tracing.
 */
export function setUpFaultTracing(): { ok: true } | { ok: false; why: string } {
  const why = traceUnavailable();
  if (why) return { ok: false, why };
  if (!existsSync(INSTANCE)) mkdirSync(INSTANCE);
  writeFileSync(`${INSTANCE}/buffer_size_kb`, '4096');
  writeFileSync(`${INSTANCE}/options/sym-offset`, '1');
  for (const [event, filter] of Object.entries(EVENTS)) {
    const dir = `${INSTANCE}/events/${event}`;
    if (!existsSync(dir)) continue;
    if (filter) writeFileSync(`${dir}/filter`, filter);
    writeFileSync(`${dir}/trigger`, filter ? `stacktrace if ${filter}` : 'stacktrace');
    writeFileSync(`${dir}/enable`, '1');
  }
  writeFileSync(`${INSTANCE}/tracing_on`, '1');
  return { ok: true };
}

/**
 * kmemleak must never scan while the allocation events are on. Their filter runs on a record
 * already written (ptr, call_site, ...), so every successful allocation leaves its pointer in
 * tracing's buffers, and kmemleak then sees the leaked object as referenced: on the test
 * module's leak, the kmemleak check said "no leaks" with the events on and found the leak with
 * them torn down (measured, 6.12.117). The agent tears the instance down before every kmemleak
 * command and sets it up again before the next sweep.
 */
let active = false;

/** Sets the instance up unless it is: before a sweep. */
export function ensureFaultTracing(): { ok: true } | { ok: false; why: string } {
  if (active) return { ok: true };
  const r = setUpFaultTracing();
  active = r.ok;
  return r;
}

/** Tears it down if it is up: before kmemleak scans or reports. */
export function suspendFaultTracing(): void {
  if (!active) return;
  active = false;
  tearDownFaultTracing();
}

/** Disables the events and removes the instance (its buffer with it). */
export function tearDownFaultTracing(): void {
  if (!existsSync(INSTANCE)) return;
  writeFileSync(`${INSTANCE}/tracing_on`, '0');
  for (const [event, filter] of Object.entries(EVENTS)) {
    const dir = `${INSTANCE}/events/${event}`;
    if (!existsSync(dir)) continue;
    writeFileSync(`${dir}/enable`, '0');
    writeFileSync(`${dir}/trigger`, filter ? `!stacktrace if ${filter}` : '!stacktrace');
  }
  rmdirSync(INSTANCE);
}

const MARKER = /tracing_mark_write(?:\+0x[0-9a-f]+\/0x[0-9a-f]+)?: kfault-step (\d+)$/;

/**
 * Reads the instance's trace_pipe as the sweep goes, split at the step markers. The sweep loop
 * calls back after step nth is over, so by then everything step nth recorded is in the buffer.
 * What was recorded before the first marker (between sweeps) is dropped.
 */
export function openStepTraces(): StepTraces | null {
  if (!existsSync(`${INSTANCE}/trace_pipe`)) return null;
  const fd = openSync(`${INSTANCE}/trace_pipe`, constants.O_RDONLY | constants.O_NONBLOCK);
  const buf = Buffer.alloc(1 << 16);
  const bySteps = new Map<number, string[]>();
  let current: string[] | null = null;
  let partial = '';
  const drain = () => {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw e;
      }
      if (n <= 0) break;
      const lines = (partial + buf.toString('utf8', 0, n)).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        const m = MARKER.exec(line);
        if (m) {
          current = [];
          bySteps.set(Number(m[1]), current);
        } else current?.push(line);
      }
    }
  };
  drain();
  bySteps.clear();
  current = null;
  return {
    of(nth) {
      drain();
      const text = (bySteps.get(nth) ?? []).join('\n');
      bySteps.delete(nth);
      for (const k of [...bySteps.keys()]) if (k < nth) bySteps.delete(k);
      return { text, site: text ? (parseTraceSites(text)[0] ?? null) : null };
    },
    close() {
      closeSync(fd);
    },
  };
}
