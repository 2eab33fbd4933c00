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

/** [start, end) of a function (up to the next symbol), or of [first, last]; or what is wrong. */
export function resolveRange(r: string | [string, string]): [bigint, bigint] | string {
  const [first, last] = typeof r === 'string' ? [r, r] : r;
  const start = kallsymsAddress(first);
  if (start === null) return `no symbol '${first}' in this kernel's /proc/kallsyms`;
  const lastStart = kallsymsAddress(last);
  if (lastStart === null) return `no symbol '${last}' in this kernel's /proc/kallsyms`;
  const end = nextAddress(lastStart);
  if (end === undefined) return `cannot tell where '${last}' ends`;
  if (end <= start) return `'${last}' comes before '${first}' in the kernel's text`;
  return [start, end];
}

/**
 * /proc/kallsyms as read once, "ADDRESS TYPE NAME[\t[MODULE]]" a line: a symbol is looked up in
 * the text itself, not split into a map first (its some 50,000 lines took 2.4-3.1 s to split
 * under TCG, on every kfault sweep's first sweep; a lookup takes milliseconds).
 */
let kallsyms: string | undefined;
const found = new Map<string, bigint | null>();

function kallsymsText(): string {
  if (kallsyms === undefined) {
    const text = readFileSync('/proc/kallsyms', 'utf8');
    kallsyms = `\n${text}${text.endsWith('\n') ? '' : '\n'}`;
  }
  return kallsyms;
}

/** A symbol's address from /proc/kallsyms (the first line of that name). */
export function kallsymsAddress(symbol: string): bigint | null {
  if (!found.has(symbol)) found.set(symbol, symbolAddress(kallsymsText(), symbol));
  return found.get(symbol)!;
}

const nextFound = new Map<bigint, bigint | undefined>();

function nextAddress(addr: bigint): bigint | undefined {
  if (!nextFound.has(addr)) nextFound.set(addr, addressAfter(kallsymsText(), addr));
  return nextFound.get(addr);
}

/**
 * In kallsyms text that starts and ends with a newline: the address of the first line named
 * symbol, null when none is or its address reads 0 (kptr_restrict). A module's symbol is named
 * with its module ("NAME\t[MODULE]"), so a bare name never matches one.
 */
export function symbolAddress(text: string, symbol: string): bigint | null {
  if (!symbol || /\s/.test(symbol)) return null;
  // the name field is the line's third, after "ADDRESS TYPE ", and it ends the line
  for (let at = text.indexOf(` ${symbol}\n`); at >= 0; at = text.indexOf(` ${symbol}\n`, at + 1)) {
    const lineStart = text.lastIndexOf('\n', at) + 1;
    const fields = text.slice(lineStart, at).split(' ');
    if (fields.length !== 2 || !/^[0-9a-f]+$/.test(fields[0]!) || fields[1]!.length !== 1) continue;
    const a = BigInt(`0x${fields[0]}`);
    return a === 0n ? null : a;
  }
  return null;
}

/** In kallsyms text as above: the lowest address of any symbol above addr. Addresses are
 * compared as text where they have the same width (kallsyms prints them zero-padded), so no
 * number is made per line. */
export function addressAfter(text: string, addr: bigint): bigint | undefined {
  const target = addr.toString(16).padStart(16, '0');
  let best: string | undefined;
  let other: bigint | undefined; // an address of another width, compared as a number
  for (let at = 1; at < text.length; ) {
    let nl = text.indexOf('\n', at);
    if (nl < 0) nl = text.length;
    const sp = text.indexOf(' ', at);
    if (sp > at && sp < nl) {
      const hex = text.slice(at, sp);
      if (hex.length === 16) {
        if (hex > target && (best === undefined || hex < best) && /^[0-9a-f]{16}$/.test(hex)) best = hex;
      } else if (/^[0-9a-f]+$/.test(hex)) {
        const v = BigInt(`0x${hex}`);
        if (v > addr && (other === undefined || v < other)) other = v;
      }
    }
    at = nl + 1;
  }
  const b = best === undefined ? undefined : BigInt(`0x${best}`);
  return b === undefined ? other : other === undefined || b < other ? b : other;
}
