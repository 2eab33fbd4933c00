// In the guest: keep injected faults out of kmemleak's own code with the fault-injection stack
// filter, or say exactly why that cannot be done.
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import type { KmemleakFilter, TextRange } from '../protocol.js';

export const INJECTORS = ['failslab', 'fail_page_alloc'] as const;

export interface GuestProbe {
  kmemleakOn: boolean;
  /** reject-start/-end exist: CONFIG_FAULT_INJECTION_STACKTRACE_FILTER */
  stackFilter: boolean;
  /** reject ranges already set (by the user), as "failslab reject-start=0x..." */
  userRejects: string[];
}

export interface FilterPlan {
  settings: Record<string, string>;
  filter: KmemleakFilter;
}

/** Present in kernels with kfault's patch (kernel/patches/kmemleak-no-fault-inject). */
export const KERNEL_KEEPS_OUT = 'fault_inject_disable';

const hex = (n: bigint) => `0x${n.toString(16)}`;

/** Pure: what to write to debugfs, and the note for the report. */
export function planKmemleakFilter(text: TextRange | null, why: string, probe: GuestProbe, resolve: (symbol: string) => bigint | null): FilterPlan {
  const kernelKeepsOut = resolve(KERNEL_KEEPS_OUT) !== null;
  const no = (note: string): FilterPlan => ({ settings: {}, filter: { kmemleakOn: probe.kmemleakOn, kernelKeepsOut, applied: false, note } });
  if (!probe.kmemleakOn) return no('not needed: kmemleak is off');
  if (kernelKeepsOut) return no(`not needed: this kernel keeps kmemleak's allocations out of fault injection (${KERNEL_KEEPS_OUT})`);
  if (!text) return no(`off: ${why}`);
  if (!probe.stackFilter) return no('cannot be applied: the kernel lacks CONFIG_FAULT_INJECTION_STACKTRACE_FILTER (no reject-start in debugfs)');
  if (probe.userRejects.length) return no(`cannot be applied: a reject range of your own is set (${probe.userRejects.join(', ')})`);
  const base = resolve(text.anchor);
  if (base === null) return no(`cannot be applied: ${text.anchor} is not in /proc/kallsyms`);
  const start = base + BigInt(text.start);
  const end = base + BigInt(text.end);
  const settings: Record<string, string> = {};
  for (const inj of INJECTORS) {
    settings[`${inj}/reject-start`] = hex(start);
    settings[`${inj}/reject-end`] = hex(end);
  }
  return { settings, filter: { kmemleakOn: true, kernelKeepsOut, applied: true, note: `on: the stack filter rejects kmemleak's text ${hex(start)}-${hex(end)} for failslab and fail_page_alloc` } };
}

const DEBUGFS = '/sys/kernel/debug';

export function probeGuest(): GuestProbe {
  // Opening it is enough: reading it would walk every object kmemleak tracks (milliseconds
  // under TCG, on every sweep), and the read itself fails no more often than the open.
  let kmemleakOn = false;
  try {
    closeSync(openSync(`${DEBUGFS}/kmemleak`, 'r'));
    kmemleakOn = true;
  } catch {
    kmemleakOn = false;
  }
  const stackFilter = INJECTORS.every((inj) => existsSync(`${DEBUGFS}/${inj}/reject-start`));
  const userRejects: string[] = [];
  if (stackFilter) {
    for (const inj of INJECTORS) {
      for (const attr of ['reject-start', 'reject-end']) {
        const v = readFileSync(`${DEBUGFS}/${inj}/${attr}`, 'utf8').trim();
        if (BigInt(v) !== 0n) userRejects.push(`${inj} ${attr}=${v}`);
      }
    }
  }
  return { kmemleakOn, stackFilter, userRejects };
}

let sorted: bigint[] | undefined;

/** [start, end) of a function (up to the next symbol), or of [first, last]; or what is wrong. */
export function resolveRange(r: string | [string, string]): [bigint, bigint] | string {
  const [first, last] = typeof r === 'string' ? [r, r] : r;
  const start = kallsymsAddress(first);
  if (start === null) return `no symbol '${first}' in this kernel's /proc/kallsyms`;
  const lastStart = kallsymsAddress(last);
  if (lastStart === null) return `no symbol '${last}' in this kernel's /proc/kallsyms`;
  sorted ??= [...new Set(kallsymsAll().values())].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const end = sorted.find((a) => a > lastStart);
  if (end === undefined) return `cannot tell where '${last}' ends`;
  if (end <= start) return `'${last}' comes before '${first}' in the kernel's text`;
  return [start, end];
}

let kallsyms: Map<string, bigint> | undefined;

function kallsymsAll(): Map<string, bigint> {
  kallsymsAddress('');
  return kallsyms!;
}

/** A symbol's address from /proc/kallsyms (the first one of that name). */
export function kallsymsAddress(symbol: string): bigint | null {
  if (!kallsyms) {
    kallsyms = new Map();
    for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
      const [addr, , name] = line.split(' ');
      if (addr && name && !kallsyms.has(name)) kallsyms.set(name, BigInt(`0x${addr}`));
    }
  }
  const a = kallsyms.get(symbol);
  return a === undefined || a === 0n ? null : a;
}
