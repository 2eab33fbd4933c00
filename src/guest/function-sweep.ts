// In the guest: function mode. Pass 1 (traceFunctions): one unarmed run of the harness with a
// kprobe event on each function of fail_function's injectable list, in a tracing instance of
// kfault's own filtered to the harness's thread (named "kf#1" during the run, in the agent or in
// a user harness's child: native/sweep.c), lists the functions the run reaches. Pass 2
// (sweepFunctions): step k fails function k once with fail_function, make-it-fail on the
// harness's thread only (random mode's machinery, one run at nth k), and everything is put back.
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import * as addon from '../addon.js';
import type { AgentMessage, FunctionTrace, Request, Step, SweepDone } from '../protocol.js';
import { ensureFaultTracing, TRACEFS } from './fault-trace-events.js';
import { assertInGuest, withFaultSettings } from './faults.js';
import { eventName, eventsInOrder, functionModeMissing, isSyscallEntry, KPROBE_GROUP, NO_KMEMLEAK_FILTER, notOnFtrace, parseInjectable, parseRetval, retvalText } from './function-text.js';

const FAIL_FUNCTION = '/sys/kernel/debug/fail_function';
const KPROBE_EVENTS = `${TRACEFS}/kprobe_events`;
const INSTANCE = `${TRACEFS}/instances/kfault-functions`;
const TRACED_NTH = 1;
const KPROBES_LIST = '/sys/kernel/debug/kprobes/list';

type TraceRequest = Extract<Request, { type: 'functionTrace' }>;
type SweepRequest = Extract<Request, { type: 'functionSweep' }>;

function checkKernel(): void {
  const why = functionModeMissing(existsSync);
  if (why) throw Object.assign(new Error(why), { code: 'KFAULT_NO_FAIL_FUNCTION' });
  assertInGuest();
}

const target = (req: TraceRequest | SweepRequest) => ({ harness: req.harness, library: req.library, arg: req.arg });

/** One run at step nth in random mode (make-it-fail on the thread, no fail-nth): its step. */
async function runOnce(req: TraceRequest | SweepRequest, dir: string, nth: number): Promise<Step> {
  let step: Step | null = null;
  await addon.sweep(target(req), dir, { first: nth, last: nth, skip: [], random: true }, (s) => (step = s));
  if (!step) throw Object.assign(new Error(`${req.harness}: the run at step ${nth} reported no step`), { code: 'KFAULT_AGENT_ERROR' });
  return step;
}

/** Removes exactly the events kfault added (the user's own kprobe events stay). */
function removeEvents(events: string[]): string[] {
  const left: string[] = [];
  for (const ev of events) {
    try {
      appendFileSync(KPROBE_EVENTS, `-:${KPROBE_GROUP}/${ev}\n`);
    } catch (e) {
      left.push(`${ev}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
  }
  return left;
}

export async function traceFunctions(req: TraceRequest, dir: string): Promise<FunctionTrace> {
  checkKernel();
  const listed = parseInjectable(readFileSync(`${FAIL_FUNCTION}/injectable`, 'utf8'));
  const unique = [...new Map(listed.map((f) => [f.name, f])).values()]; // a name listed twice (two static functions) is one kprobe
  const syscalls = unique.filter((f) => isSyscallEntry(f.name));
  const candidates = req.syscalls ? unique : unique.filter((f) => !isSyscallEntry(f.name));
  if (existsSync(INSTANCE)) throw Object.assign(new Error(`${INSTANCE} exists already: another function trace is running, or one was left behind`), { code: 'KFAULT_BUSY' });
  const byEvent = new Map<string, (typeof candidates)[number]>();
  const refused: string[] = [];
  let trace = '';
  let ret = 0;
  try {
    // one write per event, appended: opening kprobe_events for writing without O_APPEND would
    // clear every kprobe event, the user's own too
    candidates.forEach((f, i) => {
      try {
        appendFileSync(KPROBE_EVENTS, `p:${KPROBE_GROUP}/${eventName(i)} ${f.name}\n`);
        byEvent.set(eventName(i), f);
      } catch (e) {
        refused.push(`${f.name}: ${(e as NodeJS.ErrnoException).code ?? e}`);
      }
    });
    if (byEvent.size) {
      mkdirSync(INSTANCE);
      writeFileSync(`${INSTANCE}/events/${KPROBE_GROUP}/filter`, `comm == "kf#${TRACED_NTH}"`);
      writeFileSync(`${INSTANCE}/events/${KPROBE_GROUP}/enable`, '1');
      ret = (await runOnce(req, dir, TRACED_NTH)).ret;
      writeFileSync(`${INSTANCE}/events/${KPROBE_GROUP}/enable`, '0');
      trace = readFileSync(`${INSTANCE}/trace`, 'utf8');
    }
  } finally {
    if (existsSync(INSTANCE)) rmdirSync(INSTANCE); // disables its events
    const left = removeEvents([...byEvent.keys()]);
    if (left.length) throw new Error(`function trace: could not remove kprobe events ${left.join(', ')} from ${KPROBE_EVENTS}`);
  }
  const functions = eventsInOrder(trace).flatMap((ev) => (byEvent.has(ev) ? [byEvent.get(ev)!] : []));
  return { functions, injectable: unique.length, syscallsLeftOut: req.syscalls ? 0 : syscalls.length, refused, ret };
}

/** The settings of step k: fail_function on this one function, once, on the harness's thread
 * only. task-filter goes first, so that probability 100 never applies to every task. retval
 * (faults.fail_function.retval) goes to the functions that return an errno: the kernel fixes
 * what a NULL or TRUE function returns, and refuses any other value. */
function stepSettings(name: string, type: string, override: number | null): Record<string, string> {
  const retval = type === 'ERRNO' || type === 'ERRNO_NULL' ? override : null;
  const f = 'fail_function';
  return {
    [`${f}/task-filter`]: 'Y',
    [`${f}/interval`]: '1',
    [`${f}/times`]: '1',
    [`${f}/space`]: '0',
    [`${f}/verbose`]: '2',
    [`${f}/verbose_ratelimit_interval_ms`]: '0',
    [`${f}/probability`]: '100',
    [`${f}/inject`]: name,
    ...(retval === null ? {} : { [`${f}/${name}/retval`]: retvalText(retval) }),
    '/proc/sys/kernel/printk': '5 7 1 7', // the stack dumps stay off the serial console
  };
}

export async function sweepFunctions(req: SweepRequest, dir: string, send: (msg: AgentMessage) => void): Promise<SweepDone> {
  checkKernel();
  ensureFaultTracing();
  for (let k = req.first; k <= req.functions.length; k++) {
    if (req.skip.includes(k)) continue;
    const fn = req.functions[k - 1]!;
    const step = await withFaultSettings(stepSettings(fn.name, fn.type, req.retval), async () => {
      // checked with the function injected: with task-filter on, an int3 kprobe fails nothing
      const why = notOnFtrace(readFileSync(KPROBES_LIST, 'utf8'), fn.name);
      if (why) throw Object.assign(new Error(why), { code: 'KFAULT_NO_FAIL_FUNCTION' });
      const retval = parseRetval(readFileSync(`${FAIL_FUNCTION}/${fn.name}/retval`, 'utf8'));
      const s = await runOnce(req, dir, k);
      // times counts down to 0 once the function was failed
      const failed = readFileSync(`${FAIL_FUNCTION}/times`, 'utf8').trim() === '0';
      return { ...s, injected: s.injected || failed, function: { name: fn.name, type: fn.type, retval } };
    });
    const { nth, ret, injected, tid, signal, ns, kmsg, errno, fault, trace, function: func } = step;
    send({ type: 'step', id: req.id, step: { nth, ret, errno, injected, tid, signal, ns, kmsg, fault, trace, function: func } });
  }
  return { complete: true, kmemleakFilter: NO_KMEMLEAK_FILTER, refillFilter: '' };
}
