// Function mode's text formats, parsed without touching the guest (unit-tested on text saved from
// a real guest): fail_function's injectable list, the kprobe events' trace, fail_function's retval
// file, and what a kernel lacks for function mode.

/** A function on /sys/kernel/debug/fail_function/injectable and its error type. */
export interface InjectableFunction {
  name: string;
  /** ERRNO, ERRNO_NULL, NULL or TRUE: what kind of value the kernel makes it return when failed */
  type: string;
}

/** Lines as lib/error-inject.c prints them: "should_failslab\tERRNO", "foo [mod]\tERRNO". */
export function parseInjectable(text: string): InjectableFunction[] {
  const out: InjectableFunction[] = [];
  for (const line of text.split('\n')) {
    const m = /^([\w.$]+)(?: \[\w+\])?\t(\S+)$/.exec(line.trimEnd());
    if (m) out.push({ name: m[1]!, type: m[2]! });
    else if (line.trim()) throw new Error(`fail_function/injectable: unexpected line ${JSON.stringify(line)}; expected "function<TAB>TYPE"`);
  }
  return out;
}

/**
 * A syscall's entry point (__x64_sys_openat, __ia32_compat_sys_ioctl, __do_sys_..., sys_...):
 * failing it returns the errno before the kernel does anything, so no error path runs.
 */
export function isSyscallEntry(name: string): boolean {
  return /^(__[a-z0-9]+_)?(compat_)?sys_/.test(name);
}

/** The kprobe event kfault adds for the function with this index: plain names, since a
 * function's own name can be one the event syntax rejects ("foo.isra.0") or too long. */
export const KPROBE_GROUP = 'kfault_fn';
export const eventName = (index: number) => `f${index}`;

/** "  kf#1-85  [000] d..2.  17.410954: f12: (should_failslab+0x0/0x20)" -> "f12" */
const TRACE_LINE = /^\s*\S.*?-\d+\s+\[\d+\]\s.*?\s\d+\.\d+: (\w+): \(/;

/** The events hit in a trace (the instance's `trace` file), each once, in order of first hit. */
export function eventsInOrder(trace: string): string[] {
  const seen = new Set<string>();
  for (const line of trace.split('\n')) {
    const m = TRACE_LINE.exec(line);
    if (m) seen.add(m[1]!);
  }
  return [...seen];
}

/** fail_function's retval file prints an unsigned hex number ("%llx": ffffffffffffffea = -22). */
export function parseRetval(text: string): number {
  const t = text.trim();
  if (!/^[0-9a-f]{1,16}$/i.test(t)) throw new Error(`fail_function retval: expected a hex number, read ${JSON.stringify(text)}`);
  return Number(BigInt.asIntN(64, BigInt(`0x${t}`)));
}

/** What the retval file takes: it parses an unsigned number (kstrtoull), so -12 goes in as 2^64 - 12. */
export function retvalText(value: number): string {
  return `0x${BigInt.asUintN(64, BigInt(value)).toString(16)}`;
}

/** Why this kernel cannot run function mode (has: does this guest path exist), or null. */
export function functionModeMissing(has: (path: string) => boolean): string | null {
  const missing: string[] = [];
  if (!has('/sys/kernel/debug/fail_function/injectable')) missing.push('no /sys/kernel/debug/fail_function (CONFIG_FAIL_FUNCTION=y, which needs CONFIG_FUNCTION_ERROR_INJECTION=y and CONFIG_KPROBES=y)');
  if (!has('/sys/kernel/tracing/kprobe_events')) missing.push('no /sys/kernel/tracing/kprobe_events (CONFIG_KPROBE_EVENTS=y)');
  if (!missing.length) return null;
  return `function mode (sweep.mode "function") needs fail_function and kprobe events, and this kernel has ${missing.join(' and ')}; boot the block kernel, which has them all: --profile block (config kernel.profiles: ["block"])`;
}

/** No kmemleak filter in function mode: it fails functions, not allocations, on one thread. */
export const NO_KMEMLEAK_FILTER = { kmemleakOn: false, kernelKeepsOut: false, applied: false, note: 'not used: function mode fails functions with fail_function, not allocations' };

/**
 * Whether fail_function's kprobe on name sits on ftrace (/sys/kernel/debug/kprobes/list marks it
 * [FTRACE]). An int3 kprobe's handler runs in the int3 exception, entered as an NMI, where
 * in_task() is false: fail_function's task filter (make-it-fail) then never matches, so the
 * function could only be failed in every task at once. Returns why not, or null.
 */
export function notOnFtrace(list: string, name: string): string | null {
  const line = list.split('\n').find((l) => l.split(/\s+/).some((w) => w.startsWith(`${name}+0x`)));
  if (line && /\[FTRACE\]/.test(line)) return null;
  return `fail_function's kprobe on ${name} is not on ftrace (/sys/kernel/debug/kprobes/list: ${line ? JSON.stringify(line.trim()) : 'no line for it'}): an int3 kprobe's handler runs as an NMI, where fail_function's task filter (make-it-fail on the harness thread) never matches, so it could only fail every task's calls; function mode needs kprobes on ftrace: CONFIG_FUNCTION_TRACER=y (which brings CONFIG_DYNAMIC_FTRACE and CONFIG_KPROBES_ON_FTRACE) in the block kernel (--profile block)`;
}
