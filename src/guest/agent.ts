// The guest agent: runs as a child of the guest's init, serves the host over virtio-serial.
import { createReadStream, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { release } from 'node:os';
import * as addon from '../addon.js';
import type { AgentMessage, Request } from '../protocol.js';
import { MAX_MESSAGE_BYTES } from '../protocol-limits.js';
import { parseRequest } from './request-check.js';
import { runCommand, sweepCommand, traceCommand } from './command.js';
import { requestLines } from './request-lines.js';
import { sweepSettings } from './sweep-settings.js';
import { runShell } from './shell.js';
import { monotonicMs, runBench } from './bench.js';
import { ALLOC_INJECTORS, faultStateRoundTrip, forgetFaultState, globalSettings, OPT_IN_INJECTORS, randomSettings, snapshotFaultState, withFaultSettings } from './faults.js';
import { knobSettings } from '../fault-knob-table.js';
import { globalModeProblems } from '../global-mode.js';
import { leakCheckWhy } from './mem-init.js';
import { kmemleakCommand, kmemleakEnabled, openKmsg } from './kmsg.js';
import { ensureFaultTracing, suspendFaultTracing } from './fault-trace-events.js';
import { resolveRange } from './kmemleak-filter.js';
import { runSweeps } from './sweeps.js';
import { setUpDisks } from './guest-disks.js';

export const PORT_NAME = 'kfault.agent';
const WORK_DIR = '/run/kfault/work';

/** Where the agent's start went (guest CLOCK_MONOTONIC, ms), for the boot benchmark. */
const bootMarks = { nodeStartMs: monotonicMs() - process.uptime() * 1000, agentStartMs: monotonicMs(), addonLoadedMs: 0, readyMs: 0 };

function findPort(): string {
  const dir = '/sys/class/virtio-ports';
  for (const port of readdirSync(dir)) {
    if (readFileSync(`${dir}/${port}/name`, 'utf8').trim() === PORT_NAME) return `/dev/${port}`;
  }
  throw new Error(`no virtio-serial port named ${PORT_NAME} in ${dir}`);
}

async function handle(req: Request, send: (msg: AgentMessage) => void): Promise<unknown> {
  switch (req.type) {
    case 'harnesses':
      return addon.harnesses();
    case 'kmemleak':
      suspendFaultTracing(); // see fault-trace-events.ts: the events would hide leaks
      return kmemleakCommand(req.action);
    case 'command':
      return runCommand(req, WORK_DIR);
    case 'bench':
      return runBench(req, WORK_DIR, bootMarks);
    case 'shell':
      return runShell(req, WORK_DIR);
    case 'modules':
      return req.modules.map((m) => ({ path: m.path, status: loadModuleExplained(m.path, m.params) }));
    case 'stress': {
      // Collect now: no GC may start while every allocation in the kernel fails (see init.sh).
      (globalThis as { gc?: () => void }).gc?.();
      const user = knobSettings(req.faults, resolveRange);
      user.problems.push(...globalModeProblems(req.faults));
      if (user.problems.length) throw Object.assign(new Error(user.problems.map((p) => `${p.path}: ${p.message}`).join('\n')), { code: 'KFAULT_CONFIG' });
      const before = kmemleakEnabled();
      const log = openKmsg(); // after the checks: a request refused above leaves no reader open
      // probability is what the native loop turns on once the files are open; 0 until then
      const injectors = injectorsInPlay(req.faults);
      const probabilities = injectors.map((inj) => Number(user.settings[`${inj}/probability`] ?? 100));
      const settings = Object.fromEntries(Object.entries({ ...globalSettings(injectors), ...user.settings }).filter(([k]) => !k.endsWith('/probability')));
      const paths = injectors.map((inj) => `/sys/kernel/debug/${inj}/probability`);
      const r = await withFaultSettings(settings, () => addon.stress(req.harness, WORK_DIR, req.seconds * 1000, paths, probabilities)).catch((e) => {
        log();
        throw e;
      });
      return {
        harness: req.harness,
        seconds: r.ns / 1e9,
        runs: r.runs,
        failed: r.failed,
        kmemleakEnabledBefore: before,
        kmemleakEnabledAfter: kmemleakEnabled(),
        kmemleakLog: log().filter((l) => /kmemleak|memory leak detector|Memory pool empty/i.test(l)),
      };
    }
    case 'faults': {
      if (req.action === 'roundtrip') return { state: {}, ...faultStateRoundTrip() };
      const state = Object.fromEntries(snapshotFaultState());
      if (req.action === 'capabilities') for (const k of Object.keys(state)) state[k] = '';
      return { state, attributes: Object.keys(state).length, changed: 0, mismatches: [] };
    }
    case 'sweep': {
      const plan = sweepSettings(req, req.random ? randomSettings(injectorsInPlay(req.faults)) : undefined);
      ensureFaultTracing();
      const target = { harness: req.harness, library: req.library, arg: req.arg };
      const steps = { first: req.first, last: req.maxSteps, skip: req.skip, random: req.random };
      const result = await withFaultSettings(plan.settings, () => addon.sweep(target, WORK_DIR, steps, (step) => send({ type: 'step', id: req.id, step })));
      return { complete: result.complete, kmemleakFilter: plan.kmemleakFilter, refillFilter: plan.refillFilter };
    }
    case 'sweeps':
      return runSweeps(req, WORK_DIR, req.random ? randomSettings(injectorsInPlay(req.faults)) : undefined, send);
    case 'commandTrace':
      return traceCommand(req, WORK_DIR);
    case 'commandSweep': {
      const plan = sweepSettings(req);
      ensureFaultTracing();
      const complete = await withFaultSettings(plan.settings, () => sweepCommand(req, WORK_DIR, (step) => send({ type: 'step', id: req.id, step })));
      return { complete, kmemleakFilter: plan.kmemleakFilter, refillFilter: plan.refillFilter };
    }
    case 'shutdown':
      return null;
  }
}

/** failslab and fail_page_alloc always; fail_usercopy and fail_futex when the config names them. */
function injectorsInPlay(faults: Extract<Request, { type: 'sweep' | 'sweeps' }>['faults']): string[] {
  return [...ALLOC_INJECTORS, ...OPT_IN_INJECTORS.filter((inj) => faults[inj] !== undefined)];
}

/** finit_module, with what the kernel logged about a refused module in the error message. */
function loadModuleExplained(path: string, params: string) {
  const log = openKmsg();
  try {
    const status = addon.loadModule(path, params);
    log();
    return status;
  } catch (e) {
    const said = log().filter((l) => !/taints kernel/.test(l));
    if (said.length) (e as Error).message += ` (kernel: ${said.join('; ')})`;
    throw e;
  }
}

function errorOf(e: unknown) {
  const err = e as Partial<{ code: string; message: string; errno: number; syscall: string; path: string }>;
  return {
    code: typeof err.code === 'string' ? err.code : 'KFAULT_AGENT_ERROR',
    message: String(err.message ?? e),
    ...(typeof err.errno === 'number' ? { errno: err.errno } : {}),
    ...(typeof err.syscall === 'string' ? { syscall: err.syscall } : {}),
    ...(typeof err.path === 'string' ? { path: err.path } : {}),
  };
}

async function main(): Promise<void> {
  mkdirSync(WORK_DIR, { recursive: true }); // HOME and TMPDIR of what the agent runs: init.sh sets them to its parent
  const fd = openSync(findPort(), 'r+');
  const writeAll = (text: string) => {
    const buf = Buffer.from(text);
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
  };
  // No schema check here (the host checks every message it reads; zod is not loaded in the
  // guest), and the steps of one turn of the event loop go out in one write, at the end of it.
  let steps = '';
  const flush = () => {
    if (!steps) return;
    const text = steps;
    steps = '';
    writeAll(text);
  };
  const send = (msg: AgentMessage) => {
    if (msg.type === 'step') {
      if (!steps) setImmediate(flush);
      steps += JSON.stringify(msg) + '\n';
      return;
    }
    if (msg.type === 'sweepDone') {
      // out before the next sweep of the batch arms anything: a crash there is then the next target's
      steps += JSON.stringify(msg) + '\n';
      flush();
      return;
    }
    flush();
    writeAll(JSON.stringify(msg) + '\n');
  };
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  const harnesses = addon.harnesses(); // the first call loads the addon
  bootMarks.addonLoadedMs = monotonicMs();
  const disks = setUpDisks(); // before kmemleak starts: the mounts' own allocations are no step's
  kmemleakCommand('start');
  const tracing = ensureFaultTracing();
  // The reader of requests before the ready message: ready means the agent reads requests now.
  const requests = requestLines(createReadStream('', { fd, autoClose: false }), MAX_MESSAGE_BYTES);
  send({ type: 'ready', kernel: release(), node: process.version, uptimeMs: uptime * 1000, harnesses, siteTraceWhy: tracing.ok ? null : tracing.why, leakCheckWhy: leakCheckWhy(), disks });
  bootMarks.readyMs = monotonicMs();

  // Requests are served one at a time, in order: a sweep owns the fault state while it runs.
  try {
    await serve(requests, send);
  } catch (e) {
    if ((e as { code?: string }).code !== 'KFAULT_PROTOCOL') throw e;
    // A line past the bound: nothing after it can be read as a request. Said to the host as a
    // line that is no message (its reader fails with KFAULT_PROTOCOL, quoting it, and kills QEMU).
    flush();
    writeAll(`kfault agent: ${(e as Error).message}\n`);
    process.exit(1);
  }
  process.exit(0);
}

async function serve(requests: AsyncIterable<string>, send: (msg: AgentMessage) => void): Promise<void> {
  for await (const line of requests) {
    if (!line.trim()) continue;
    let req: Request;
    try {
      req = parseRequest(line);
    } catch (e) {
      const id = Number(/"id"\s*:\s*(\d+)/.exec(line)?.[1] ?? 0);
      send({ type: 'reply', id, ok: false, error: { code: 'KFAULT_BAD_REQUEST', message: String((e as Error).message) } });
      continue;
    }
    // The fault state a sweep restored stays known (and is not read again before the next)
    // only while nothing but sweeps and kmemleak runs: programs and modules could change it.
    if (!['sweep', 'sweeps', 'harnesses', 'kmemleak', 'shutdown'].includes(req.type)) forgetFaultState();
    try {
      send({ type: 'reply', id: req.id, ok: true, result: await handle(req, send) });
    } catch (e) {
      send({ type: 'reply', id: req.id, ok: false, error: errorOf(e) });
    }
    if (req.type === 'shutdown') break;
  }
}

main().catch((e) => {
  console.error(`kfault agent: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
