#!/usr/bin/env node
// npm run bench: kfault against the alternatives, side by side, as ratios measured in one run.
// Writes bench/results.json and bench/results.md (the table the README shows).
//
//   node bench/run.mjs [--only sweep,profile,boot,leak,memory,build,determinism,leak-detection,chaos] [--rounds N]
//   (determinism: BENCH_DETERMINISM_ROUNDS fresh guests, default 20; leak-detection: BENCH_LEAK_ROUNDS
//   checks per setting in one guest, default 20; chaos: BENCH_CHAOS_RUNS killed runs, default 20,
//   schedule seeded by BENCH_CHAOS_SEED, default the time; not in the default set: it kills kfault
//   on purpose)
//   node bench/run.mjs --readme   (only write bench/results.md from results.json and put it into README.md)
//   env: BENCH_ONLY, BENCH_ROUNDS (default 5), BENCH_COLD_BUILD=1 (also time a kernel build
//        from an empty kfault cache and an empty ccache: about 5 minutes more on 2 cores),
//        BENCH_LEAK_FULL=1 (a kmemleak cycle per step over the whole catalogue, measured rather
//        than projected: about 15 minutes more under TCG)
//
// Sections not run keep their figures from the previous results.json (each says when it ran).
// Everything that injects faults runs in a kfault guest: the C programs (bench/*.c, built here
// with cc into the kfault cache, which the guest sees over 9p) refuse to arm outside one.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { boot, QEMU } from '../dist/guest/boot.js';
import { qemuArgs } from '../dist/guest/qemu.js';
import { parseConfig } from '../dist/config.js';
import { ensureKernel } from '../dist/kernel/build.js';
import { modulesFor } from '../dist/kernel/modules.js';
import { compileHarness } from '../dist/harness/compile.js';
import { attributeLeaks } from '../dist/attribution.js';
import { cacheDir } from '../dist/paths.js';
import { catalogueFor } from '../dist/harness/needs.js';
import { determinismSection } from './determinism.mjs';
import { leakDetectionSection } from './leak-detection.mjs';
import { chaosSection } from './chaos.mjs';
import { buildMarkdown, buildSection } from './build.mjs';

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const here = join(root, 'bench');
const bin = join(cacheDir(), 'bench');
const resultsJson = join(here, 'results.json');
const resultsMd = join(here, 'results.md');

const SECTIONS = ['sweep', 'profile', 'boot', 'leak', 'memory', 'build', 'determinism', 'leak-detection', 'chaos'];
const DEFAULT_SECTIONS = SECTIONS.filter((s) => s !== 'chaos');
const flag = (name) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const only = (flag('only') ?? process.env.BENCH_ONLY ?? DEFAULT_SECTIONS.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section '${s}'; expected some of ${SECTIONS.join(',')}`);
const ROUNDS = Number(flag('rounds') ?? process.env.BENCH_ROUNDS ?? 5);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds: expected a whole number >= 1');

const started = performance.now();
const log = (msg) => process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);
const now = () => performance.now();

// ---------------------------------------------------------------- figures

function stats(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  return { median, min: v[0], max: v[v.length - 1], n: v.length };
}

/** 3 significant digits at most, no exponent */
function num(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a >= 100) return Math.round(x).toLocaleString('en-US');
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(2);
}
const med = (s) => (s ? num(s.median) : '–');
const withRange = (s) => (s ? (s.n > 1 ? `${num(s.median)} (${num(s.min)}–${num(s.max)})` : num(s.median)) : '–');
const ms = (x) => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`);
const msRange = (s) => (s ? (s.n > 1 ? `${ms(s.median)} (${ms(s.min)}–${ms(s.max)})` : ms(s.median)) : '–');

// ---------------------------------------------------------------- the machine

function qemuVersion() {
  return spawnSync(QEMU, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0].trim();
}

function machine() {
  return {
    cpu: cpus()[0]?.model ?? '?',
    cores: availableParallelism(),
    ramGiB: Math.round(totalmem() / 2 ** 30),
    hostKernel: release(),
    qemu: qemuVersion(),
    node: process.version,
    loadavg: loadavg().map((x) => Number(x.toFixed(2))),
  };
}

// ---------------------------------------------------------------- the C programs

function buildPrograms() {
  mkdirSync(bin, { recursive: true });
  const cc = process.env.CC || 'cc';
  const flags = ['-O2', '-Wall', '-Wextra', '-std=gnu11', '-D_GNU_SOURCE'];
  const n = (f) => join(root, 'native', f);
  const programs = {
    floor: [...flags, '-pthread', join(here, 'floor.c'), n('harnesses.c'), n('guest.c'), n('sweep.c'), n('kmsg.c')],
    step: [...flags, join(here, 'step.c'), n('harnesses.c'), n('guest.c')],
    'trivial-init': [...flags, '-static', join(here, 'trivial-init.c')],
    percall: [...flags, '-pthread', join(here, 'percall.c'), n('guest.c')],
  };
  for (const [name, args] of Object.entries(programs)) {
    const r = spawnSync(cc, ['-o', join(bin, name), ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cc} ${name}: ${r.error?.message ?? r.stderr}`);
  }
  return Object.fromEntries(Object.keys(programs).map((p) => [p, join(bin, p)]));
}

// ---------------------------------------------------------------- 1. sweep throughput

const SWEEP_HARNESSES = ['pipe2', 'open', 'socket-inet'];
/** sweeps per measurement: each takes about a second under TCG */
const SWEEPS = { floor: 150, 'floor+kmsg': 150, 'kfault C loop': 100, addon: 40, kfault: 25, 'kfault, a request per sweep': 10, shell: 2 };

async function inGuest(guest, argv, what) {
  const r = await guest.bench(argv, { sweepSettings: true, timeoutMs: 300_000 });
  if (r.exitCode !== 0) throw new Error(`${what}: exit ${r.exitCode ?? r.signal}${r.timedOut ? ' (timed out)' : ''}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const rate = (m) => ({ stepsPerSecond: (m.steps / m.ns) * 1e9, stepsPerSweep: m.steps / m.sweeps });

async function sweepSection(config, kernel, programs) {
  log(`sweep throughput: booting a guest; ${ROUNDS} rounds of ${SWEEP_HARNESSES.join(', ')}`);
  const guest = await boot(config, { kernel });
  const addonScript = join(here, 'addon-sweep.mjs');
  const methods = [
    ['floor', (h) => inGuest(guest, [programs.floor, h, String(SWEEPS.floor)], 'floor').then((m) => ({ floor: rate(m) }))],
    ['floor+kmsg', (h) => inGuest(guest, [programs.floor, '--kmsg', h, String(SWEEPS['floor+kmsg'])], 'floor --kmsg').then((m) => ({ 'floor+kmsg': rate(m) }))],
    ['kfault C loop', (h) => inGuest(guest, [programs.floor, '--kfault', h, String(SWEEPS['kfault C loop'])], 'floor --kfault').then((m) => ({ 'kfault C loop': rate(m) }))],
    [
      'addon',
      (h) => inGuest(guest, [process.execPath, addonScript, h, String(SWEEPS.addon)], 'addon-sweep.mjs').then((m) => ({ 'addon raw': rate(m.raw), 'addon + agent JS': rate(m.agent) })),
    ],
    [
      'kfault',
      async (h) => {
        // the sweeps in one request, as kfault sweep sends its harnesses (Guest.sweepMany)
        await guest.sweepMany([h]); // warm-up, as the programs do
        const t0 = now();
        const steps = (await guest.sweepMany(Array(SWEEPS.kfault).fill(h))).reduce((n, r) => n + r.steps.length, 0);
        return { kfault: rate({ steps, sweeps: SWEEPS.kfault, ns: (now() - t0) * 1e6 }) };
      },
    ],
    [
      'kfault, a request per sweep',
      async (h) => {
        const n = SWEEPS['kfault, a request per sweep'];
        await guest.sweep(h);
        let steps = 0;
        const t0 = now();
        for (let i = 0; i < n; i++) steps += (await guest.sweep(h)).steps.length;
        return { 'kfault, a request per sweep': rate({ steps, sweeps: n, ns: (now() - t0) * 1e6 }) };
      },
    ],
    ['shell', (h) => inGuest(guest, ['/bin/sh', join(here, 'shell-sweep.sh'), programs.step, h, String(SWEEPS.shell)], 'shell-sweep.sh').then((m) => ({ shell: rate(m) }))],
  ];
  /** raw[harness][method] = one figure per round */
  const raw = Object.fromEntries(SWEEP_HARNESSES.map((h) => [h, {}]));
  const load = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      load.push(loadavg()[0]);
      for (const [hi, h] of SWEEP_HARNESSES.entries()) {
        // a different order every round: no method always runs right after the same one
        const k = (round + hi) % methods.length;
        const order = [...methods.slice(k), ...methods.slice(0, k)];
        for (const [, run] of order) {
          for (const [name, r] of Object.entries(await run(h))) (raw[h][name] ??= []).push(r);
        }
        log(`  round ${round + 1}/${ROUNDS} ${h}: ${Object.entries(raw[h]).map(([m, v]) => `${m} ${num(v.at(-1).stepsPerSecond)}`).join(', ')}`);
      }
    }
  } finally {
    await guest.close();
  }
  const out = {};
  for (const h of SWEEP_HARNESSES) {
    const per = raw[h];
    const ratio = (a, b) => stats(per[a].map((x, i) => x.stepsPerSecond / per[b][i].stepsPerSecond));
    out[h] = {
      methods: Object.fromEntries(
        Object.entries(per).map(([m, v]) => [m, { stepsPerSecond: stats(v.map((x) => x.stepsPerSecond)), stepsPerSweep: stats(v.map((x) => x.stepsPerSweep)), rounds: v.map((x) => x.stepsPerSecond) }]),
      ),
      ratios: {
        'kfault/floor': ratio('kfault', 'floor'),
        'kfault/shell': ratio('kfault', 'shell'),
        'addon + agent JS/floor': ratio('addon + agent JS', 'floor'),
        'kfault C loop/floor': ratio('kfault C loop', 'floor'),
        'floor+kmsg/floor': ratio('floor+kmsg', 'floor'),
        'kfault C loop/floor+kmsg': ratio('kfault C loop', 'floor+kmsg'),
        'addon + agent JS/floor+kmsg': ratio('addon + agent JS', 'floor+kmsg'),
      },
    };
  }
  return { accel: guest.accel, kernel: guest.kernel, rounds: ROUNDS, sweepsPerMeasurement: SWEEPS, loadavg1: stats(load), harnesses: out };
}

// ---------------------------------------------------------------- 1b. where a sweep's time goes

/** Medians in ms of one sweep request's pieces: in the guest (bench/profile-guest.mjs, the agent's
 * own code called piece by piece), from the host (arrival of the step events and the reply), and
 * kfault's C loop's per-sweep system calls (bench/percall.c, microseconds). */
async function profileSection(config, kernel, programs) {
  const harness = 'pipe2';
  const calls = 10 * ROUNDS;
  log(`profile: where one sweep request of ${harness} spends its time (${calls} calls each)`);
  const guest = await boot(config, { kernel });
  try {
    const g = await inGuest(guest, [process.execPath, join(here, 'profile-guest.mjs'), harness, String(calls)], 'profile-guest.mjs');
    const c = await inGuest(guest, [programs.percall, String(20 * calls)], 'percall');
    const median = (v) => stats(v).median;
    const rt = [];
    for (let i = 0; i <= calls; i++) {
      const t0 = now();
      await guest.bench(null);
      if (i) rt.push(now() - t0);
    }
    const first = [];
    const last = [];
    const whole = [];
    await guest.sweep(harness);
    for (let i = 0; i < calls; i++) {
      const arrivals = [];
      const t0 = now();
      await guest.sweep(harness, { onStep: () => arrivals.push(now() - t0) });
      whole.push(now() - t0);
      first.push(arrivals[0]);
      last.push(whole.at(-1) - arrivals.at(-1));
    }
    log(`  whole sweep request ${num(median(whole))} ms, round trip ${num(median(rt))} ms`);
    // the boot's "Node start" phase: Node itself, and the modules the agent imports
    const dist = join(root, 'dist');
    const starts = {
      'node -e 0': [process.execPath, '-e', '0'],
      "node: import zod (the protocol's schemas)": [process.execPath, '--input-type=module', '-e', `await import('${root}/node_modules/zod/index.js')`],
      // one by one, as ESM: the modules dist/guest/agent.bundle.cjs holds in one file (the bundle
      // itself cannot run here: it would open the agent's port)
      "node: import the agent's modules (dist/guest/agent.js's imports, no zod)": [
        process.execPath,
        '--input-type=module',
        '-e',
        `for (const m of ['addon.js', 'fault-knob-table.js', 'global-mode.js', 'protocol-limits.js', 'guest/request-check.js', 'guest/command.js', 'guest/bench.js', 'guest/faults.js', 'guest/kmsg.js', 'guest/kmemleak-filter.js', 'guest/sweep-settings.js', 'guest/shell.js']) await import('${dist}/' + m)`,
      ],
      '/bin/sh -c true': ['/bin/sh', '-c', 'true'],
    };
    const startMs = {};
    for (const [k, argv] of Object.entries(starts)) {
      const t = [];
      for (let i = 0; i < 3; i++) {
        const r = await guest.bench(argv);
        if (r.exitCode !== 0) throw new Error(`${k}: exit ${r.exitCode}: ${r.stderr}`);
        t.push(r.ms);
      }
      startMs[k] = median(t);
    }
    return {
      harness,
      calls,
      loadavg1: loadavg()[0],
      stepsPerSweep: g.stepsPerSweep,
      faultAttributes: g.faultAttributes,
      guestMs: g.ms,
      hostMs: {
        'a request that does nothing (round trip)': median(rt),
        'request sent to the first step event': median(first),
        'the last step event to the reply': median(last),
        'a whole sweep request': median(whole),
      },
      perSweepSyscallsUs: c,
      processStartMs: startMs,
    };
  } finally {
    await guest.close();
  }
}

// ---------------------------------------------------------------- 2. boot

async function bootKfault(config, kernel) {
  let tSpawn = 0;
  const t0 = now();
  const guest = await boot(config, { kernel, onQemuCommand: () => (tSpawn = now()) });
  const tReady = now();
  try {
    const b = (await guest.bench(null)).boot;
    // the guest's clock (CLOCK_MONOTONIC, kernel log timestamps) starts with the kernel:
    // what came before it on the host's clock is QEMU's start, the firmware and decompression
    const firmware = tReady - tSpawn - b.readyMs;
    return {
      accel: guest.accel,
      total: tReady - tSpawn,
      bootCall: tReady - t0,
      phases: {
        firmware,
        kernel: b.initExecMs,
        init: b.initExecMs === null ? null : b.nodeStartMs - b.initExecMs,
        'Node start': b.agentStartMs - b.nodeStartMs,
        'addon load': b.addonLoadedMs - b.agentStartMs,
        ready: b.readyMs - b.addonLoadedMs,
      },
    };
  } finally {
    await guest.close();
  }
}

/** The same kernel and QEMU command line, init= a static program that reboots at once. */
async function bootFloor(config, kernel, accel, init) {
  const sockDir = join(bin, `sock-${process.pid}`);
  mkdirSync(sockDir, { recursive: true });
  const sock = join(sockDir, 'agent.sock');
  const server = createServer((s) => s.on('error', () => {}));
  await new Promise((res) => server.listen(sock, res));
  const args = qemuArgs({ qemu: QEMU, accel, cpus: config.machine.cpus, memoryMiB: config.machine.memoryMiB, kernelImage: kernel.image, init, agentSocket: sock, cmdline: config.machine.cmdline });
  const tSpawn = now();
  const child = spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let tInit = null;
  let guestInitMs = null;
  createInterface({ input: child.stdout }).on('line', (line) => {
    const m = /kfault-bench: init ran at (\d+) ms/.exec(line);
    if (m && tInit === null) {
      tInit = now();
      guestInitMs = Number(m[1]);
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), config.machine.bootTimeoutMs);
  const code = await new Promise((res) => child.on('close', (c, s) => res(c ?? s)));
  const tExit = now();
  clearTimeout(timer);
  server.close();
  rmSync(sockDir, { recursive: true, force: true });
  if (tInit === null) throw new Error(`floor boot: no init marker on the console (QEMU exit ${code})`);
  return { total: tInit - tSpawn, toExit: tExit - tSpawn, phases: { firmware: tInit - tSpawn - guestInitMs, kernel: guestInitMs } };
}

async function bootSection(config, kernel, programs) {
  log(`boot: ${ROUNDS} rounds, kfault and the trivial-init floor alternating`);
  const kf = [];
  const fl = [];
  const load = [];
  let accel = null;
  for (let round = 0; round < ROUNDS; round++) {
    load.push(loadavg()[0]);
    const order = round % 2 ? ['floor', 'kfault'] : ['kfault', 'floor'];
    for (const which of order) {
      if (which === 'kfault') {
        const r = await bootKfault(config, kernel);
        accel = r.accel;
        kf.push(r);
      } else {
        // the floor needs to know the accelerator kfault chose; on the first round kfault goes first
        fl.push(await bootFloor(config, kernel, accel ?? (await bootKfault(config, kernel)).accel, programs['trivial-init']));
      }
    }
    log(`  round ${round + 1}/${ROUNDS}: kfault ${ms(kf.at(-1).total)}, floor ${ms(fl.at(-1).total)}`);
  }
  const phaseStats = (runs) => Object.fromEntries(Object.keys(runs[0].phases).map((p) => [p, stats(runs.map((r) => r.phases[p]))]));
  return {
    accel,
    rounds: ROUNDS,
    loadavg1: stats(load),
    kfault: { total: stats(kf.map((r) => r.total)), bootCall: stats(kf.map((r) => r.bootCall)), phases: phaseStats(kf) },
    floor: { total: stats(fl.map((r) => r.total)), toExit: stats(fl.map((r) => r.toExit)), phases: phaseStats(fl) },
    ratio: stats(kf.map((r, i) => r.total / fl[i].total)),
  };
}

// ---------------------------------------------------------------- 3. leak check

async function leakSection(config, kernel) {
  const fixture = join(root, 'test/fixtures/kfault-test-module');
  log('leak check: building the test module (a known leak at nth=3 of harness.c:leak)');
  const modules = await modulesFor(kernel, [{ path: fixture, params: '' }]);
  const leaky = { name: 'harness.c(leak)', library: compileHarness(join(fixture, 'harness.c')), arg: 'leak' };
  const guest = await boot(config, { kernel });
  const label = (t) => (typeof t === 'string' ? t : t.name);
  try {
    await guest.loadModules(modules);
    const catalogue = catalogueFor(guest.catalogue.map((h) => h.name), guest.disks).names;
    /** one check over some results: leaks tied to sweep steps, and the others */
    const check = async (results) => {
      const k = await guest.kmemleakCheck();
      if (!k.enabled) throw new Error(`kmemleak is not working: ${k.why}`);
      const a = attributeLeaks(results, k.leaks, []);
      return { attributed: a.results.flatMap((r) => r.leaks.map((l) => `${r.harness} nth=${l.nth ?? '-'}`)), unattributed: a.unattributed.length };
    };
    const modes = {
      'one cycle': async (targets) => {
        await guest.kmemleakClear();
        const results = [];
        for (const t of targets) results.push(await guest.sweep(t));
        const c = await check(results);
        return { checks: 1, steps: results.reduce((n, r) => n + r.steps.length, 0), ...c };
      },
      'a cycle per harness': async (targets) => {
        const out = { checks: 0, steps: 0, attributed: [], unattributed: 0 };
        for (const t of targets) {
          await guest.kmemleakClear();
          const r = await guest.sweep(t);
          const c = await check([r]);
          out.checks++;
          out.steps += r.steps.length;
          out.attributed.push(...c.attributed);
          out.unattributed += c.unattributed;
        }
        return out;
      },
      // what a naive loop does: arm one point, run, check kmemleak, next point
      'a cycle per step': async (targets) => {
        const out = { checks: 0, steps: 0, attributed: [], unattributed: 0 };
        for (const t of targets) {
          for (let n = 1; ; n++) {
            await guest.kmemleakClear();
            const r = await guest.sweep(t, { maxSteps: n, skip: Array.from({ length: n - 1 }, (_, i) => i + 1) });
            const c = await check([r]);
            out.checks++;
            out.steps += r.steps.length;
            out.attributed.push(...c.attributed);
            out.unattributed += c.unattributed;
            if (r.complete || n >= 1000) break;
          }
        }
        return out;
      },
    };
    const sets = [
      { name: 'pipe2 + harness.c(leak)', targets: ['pipe2', leaky], modes: Object.keys(modes) },
      { name: `the catalogue (${catalogue.length}) + harness.c(leak)`, targets: [...catalogue, leaky], modes: process.env.BENCH_LEAK_FULL === '1' ? Object.keys(modes) : ['one cycle', 'a cycle per harness'] },
    ];
    const out = [];
    for (const set of sets) {
      const row = { set: set.name, harnesses: set.targets.map(label), modes: {} };
      for (const m of set.modes) {
        log(`  ${set.name}: ${m}`);
        const t0 = now();
        const r = await modes[m](set.targets);
        row.modes[m] = { ms: now() - t0, ...r, leaks: r.attributed.length };
        log(`    ${ms(row.modes[m].ms)}, ${r.checks} checks, ${r.steps} steps, leaks ${r.attributed.join(', ') || 'none'}`);
      }
      out.push(row);
    }
    // a cycle per step over the whole catalogue, projected from the small set when not measured
    const small = out[0].modes['a cycle per step'];
    const full = out[1];
    if (!full.modes['a cycle per step'] && small) {
      const steps = full.modes['one cycle'].steps;
      full.projected = { 'a cycle per step': { ms: (small.ms / small.steps) * steps, steps, from: `${small.steps} steps of ${out[0].set}` } };
    }
    return { accel: guest.accel, loadavg1: loadavg()[0], sets: out };
  } finally {
    await guest.close();
  }
}

// ---------------------------------------------------------------- 4. memory

function peakRssOfCli(args) {
  const file = join(bin, `rss-${process.pid}`);
  const t0 = now();
  const r = spawnSync(process.execPath, ['--import', join(here, 'maxrss.mjs'), join(root, 'bin/kfault.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, KFAULT_BENCH_RSS: file },
    maxBuffer: 64 << 20,
  });
  const wall = now() - t0;
  if (r.status !== 0 && r.status !== 1) throw new Error(`kfault ${args.join(' ')}: exit ${r.status}: ${r.stderr.slice(-2000)}`);
  const kib = Number(readFileSync(file, 'utf8'));
  rmSync(file, { force: true });
  return { kib, wall, exit: r.status };
}

function vmHwmKiB(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : null;
}

/** Boots with memMiB, sweeps the catalogue, checks kmemleak: what it took, or why it failed. */
async function catalogueAt(config, kernel, memMiB) {
  const c = structuredClone(config);
  c.machine.memoryMiB = memMiB; // below kfault's own minimum (256) on purpose: this is a search
  c.machine.bootTimeoutMs = Math.min(c.machine.bootTimeoutMs, 60_000);
  let guest;
  try {
    guest = await boot(c, { kernel });
    let steps = 0;
    for (const name of catalogueFor(guest.catalogue.map((h) => h.name), guest.disks).names) steps += (await guest.sweep(name)).steps.length;
    const k = await guest.kmemleakCheck();
    const b = await guest.bench(['/bin/cat', '/proc/meminfo']);
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(b.stdout)?.[1] ?? NaN);
    return {
      ok: k.enabled,
      why: k.enabled ? null : k.why,
      steps,
      restarts: guest.restarts,
      agentMaxRssKiB: b.agentMaxRssKiB,
      qemuMaxRssKiB: vmHwmKiB(guest.pid),
      guestUsedKiB: kb('MemTotal') - kb('MemAvailable'),
      guestTotalKiB: kb('MemTotal'),
    };
  } catch (e) {
    return { ok: false, why: String(e.message).split('\n')[0] };
  } finally {
    await guest?.close();
  }
}

async function memorySection(config, kernel) {
  log('memory: kfault sweep of the whole catalogue (the CLI), peak RSS of the host process');
  const cli = peakRssOfCli(['sweep', '--json']);
  log(`  host process ${Math.round(cli.kib / 1024)} MiB`);
  const atDefault = await catalogueAt(config, kernel, config.machine.memoryMiB);
  const tries = [];
  let needed = null;
  for (const mem of [96, 128, 160, 192, 256, 384, 512, 768]) {
    if (mem >= config.machine.memoryMiB) break;
    log(`  the catalogue in a guest of ${mem} MiB`);
    const r = await catalogueAt(config, kernel, mem);
    tries.push({ memMiB: mem, ok: r.ok && r.restarts === 0, why: r.ok ? (r.restarts ? `${r.restarts} restarts` : null) : r.why });
    if (r.ok && r.restarts === 0) {
      needed = mem;
      break;
    }
  }
  return { hostCli: { peakRssKiB: cli.kib, wallMs: cli.wall, exit: cli.exit }, atDefault: { memMiB: config.machine.memoryMiB, ...atDefault }, guestRamNeededMiB: needed, tries };
}

// ---------------------------------------------------------------- 5. kernel build

// ---------------------------------------------------------------- the table

function markdown(r) {
  const m = r.machine;
  const lines = [];
  const p = (s = '') => lines.push(s);
  const when = (s) => `${s.date.slice(0, 16).replace('T', ' ')} UTC, load average ${num(s.loadavg1?.median ?? s.loadavg1 ?? s.loadavgStart[0])} on ${m.cores} cores`;
  p(`Measured on ${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB, Linux ${m.hostKernel}, ${m.qemu}, Node ${m.node}; guest kernel ${r.guestKernel}, accelerator ${r.accel?.toUpperCase()}. Figures are medians over the rounds with the range (min–max) in brackets; ratios are taken per round (both sides in the same guest, one after the other) and then their median.`);
  p();
  const s = r.sections.sweep;
  if (s) {
    p(`**Sweep throughput** (steps per second; ${s.rounds} rounds; ${when(s)})`);
    p();
    p('| harness | steps per sweep | floor: tight C loop | kfault | kfault / floor | shell: a process per step | kfault / shell |');
    p('|---|---|---|---|---|---|---|');
    for (const [h, x] of Object.entries(s.harnesses)) {
      const f = x.methods;
      p(`| ${h} | ${med(f.kfault.stepsPerSweep)} | ${withRange(f.floor.stepsPerSecond)} | ${withRange(f.kfault.stepsPerSecond)} | **${withRange(x.ratios['kfault/floor'])}** | ${withRange(f.shell.stepsPerSecond)} | **${withRange(x.ratios['kfault/shell'])}** |`);
    }
    p();
    p('Where the time goes, from the floor to kfault (steps per second, medians):');
    p();
    p('| harness | floor | + per-step /dev/kmsg drain and thread name | kfault\'s C loop (kf_sweep: + a thread, fail-nth and kmsg opened per sweep) | + N-API, a JS callback per step | + the agent\'s per-step JS (errno name, fault site, JSON) | kfault from the host, a request per sweep (+ fault settings, request, step events over virtio-serial) | kfault from the host, the sweeps in one request |');
    p('|---|---|---|---|---|---|---|---|');
    for (const [h, x] of Object.entries(s.harnesses)) {
      const f = x.methods;
      p(`| ${h} | ${med(f.floor.stepsPerSecond)} | ${med(f['floor+kmsg'].stepsPerSecond)} | ${med(f['kfault C loop'].stepsPerSecond)} | ${med(f['addon raw'].stepsPerSecond)} | ${med(f['addon + agent JS'].stepsPerSecond)} | ${f['kfault, a request per sweep'] ? med(f['kfault, a request per sweep'].stepsPerSecond) : '–'} | ${med(f.kfault.stepsPerSecond)} |`);
    }
    p();
    if (Object.values(s.harnesses).some((x) => x.ratios['addon + agent JS/floor+kmsg'])) {
      p('In the guest, against the floor with the per-step kmsg drain (medians of the per-round ratios):');
      p();
      p('| harness | kfault\'s C loop / floor+kmsg | the agent\'s path (addon + agent JS) / floor+kmsg |');
      p('|---|---|---|');
      for (const [h, x] of Object.entries(s.harnesses)) p(`| ${h} | ${withRange(x.ratios['kfault C loop/floor+kmsg'])} | **${withRange(x.ratios['addon + agent JS/floor+kmsg'])}** |`);
      p();
    }
  }
  const pr = r.sections.profile;
  if (pr) {
    p(`**Where one sweep request goes** (${pr.harness}, ${num(pr.stepsPerSweep)} steps; medians of ${pr.calls} calls, ms; ${when(pr)}; \`npm run bench -- --only profile\`)`);
    p();
    p('| piece | ms |');
    p('|---|---|');
    for (const [k, v] of Object.entries(pr.hostMs)) p(`| host: ${k} | ${num(v)} |`);
    for (const [k, v] of Object.entries(pr.guestMs)) p(`| guest: ${k} | ${num(v)} |`);
    for (const [k, v] of Object.entries(pr.processStartMs ?? {})) p(`| guest, a process from start to exit (boot's "Node start"): ${k} | ${num(v)} |`);
    p(`| guest: kfault's C loop per sweep, beyond the floor (µs): ${Object.entries(pr.perSweepSyscallsUs).map(([k, v]) => `${k} ${num(v)}`).join('; ')} | |`);
    p();
  }
  const b = r.sections.boot;
  if (b) {
    const ph = ['firmware', 'kernel', 'init', 'Node start', 'addon load', 'ready'];
    p(`**Boot to agent ready** (${b.accel?.toUpperCase()}; ${b.rounds} rounds; ${when(b)})`);
    p();
    p(`| | QEMU start to ready | ${ph.join(' | ')} |`);
    p(`|---|---|${ph.map(() => '---').join('|')}|`);
    p(`| kfault | ${msRange(b.kfault.total)} | ${ph.map((x) => (b.kfault.phases[x] ? ms(b.kfault.phases[x].median) : '–')).join(' | ')} |`);
    p(`| floor: same kernel, init exits at once | ${msRange(b.floor.total)} | ${ph.map((x) => (b.floor.phases[x] ? ms(b.floor.phases[x].median) : '–')).join(' | ')} |`);
    p(`| **kfault / floor** | **${withRange(b.ratio)}** | | | | | | |`);
    p();
  }
  const l = r.sections.leak;
  if (l) {
    p(`**Leak check** (kmemleak: clear, sweeps, scan, wait for the minimum object age, scan, report; ${when(l)}; one round)`);
    p();
    p('| harnesses | kmemleak cycles | wall time | cycles | steps | leaks found |');
    p('|---|---|---|---|---|---|');
    for (const set of l.sets) {
      for (const [mode, x] of Object.entries(set.modes)) p(`| ${set.set} | ${mode} | ${ms(x.ms)} | ${x.checks} | ${x.steps} | ${x.leaks}${x.attributed.length ? ` (${[...new Set(x.attributed)].join(', ')})` : ''} |`);
      for (const [mode, x] of Object.entries(set.projected ?? {})) p(`| ${set.set} | ${mode} | ${ms(x.ms)} projected | ${x.steps} | ${x.steps} | (from ${x.from}) |`);
    }
    p();
  }
  if (r.sections.build) buildMarkdown(r.sections.build, { p, ms, msRange, when });
  const d = r.sections.determinism;
  if (d) {
    p(`**Determinism** (distinct step sequences of each harness over ${d.rounds} fresh guests, each sweeping the catalogue and the test module's harness in another order; nth, verdict, errno and call site of every step; goal 1; ${when(d)}; \`npm run bench -- --only determinism\`)`);
    p();
    p('| harness | steps | distinct sequences | first step that differs | injected steps without a call site |');
    p('|---|---|---|---|---|');
    for (const [h, x] of Object.entries(d.harnesses)) {
      const diff = x.differs.map((f) => `${f.runs} run(s): step ${f.step} \`${f.got}\` instead of \`${f.expected}\``).join('; ');
      const unsited = x.sequence.filter((row) => / (failed|tolerated|absorbed) \S+ -$/.test(row)).length;
      p(`| ${h} | ${x.steps} | **${x.distinct}** | ${diff || '–'} | ${unsited} |`);
    }
    p();
  }
  const ld = r.sections['leak-detection'];
  if (ld) {
    p(`**Leak detection** (the test module's planted leak, harness.c:leak at nth=3: sweep, kmemleak check, ${ld.rounds} times in one guest, the leaks reported so far put aside before each (\`kmemleakClear()\`); ${when(ld)}; \`npm run bench -- --only leak-detection\`)`);
    p();
    p('| guest | planted leak reported | checks that missed it |');
    p('|---|---|---|');
    p(`| as kfault boots it (\`init_on_alloc=1\`) | **${ld.initOnAlloc.found}/${ld.initOnAlloc.rounds}** | ${ld.initOnAlloc.missed.join(', ') || '–'} |`);
    p(`| allocations not zeroed (\`init_on_alloc=0\`) | ${ld.noInitOnAlloc.found}/${ld.noInitOnAlloc.rounds} | ${ld.noInitOnAlloc.missed.join(', ') || '–'} |`);
    p();
  }
  const c = r.sections.chaos;
  if (c) {
    p(`**Chaos** (\`kfault sweep\` of a pipe2 harness killed ${c.killed} times at random moments, seed ${c.seed}: SIGINT ${c.bySignal.SIGINT}, SIGTERM ${c.bySignal.SIGTERM}, SIGKILL ${c.bySignal.SIGKILL}; in the harness build ${c.byPhase.build}, boot ${c.byPhase.boot}, sweep ${c.byPhase.sweep}, recovery from a hung step ${c.byPhase.recovery}, kmemleak check ${c.byPhase.kmemleak}; ${when(c)}; \`npm run bench -- --only chaos\`)`);
    p();
    p('| after each kill | goal | found |');
    p('|---|---|---|');
    p(`| QEMU processes of the killed run still alive (a guest that survives could hold armed faults) | 0 | **${c.qemuOrphans}** |`);
    p(`| kills that left temp dirs or scratch files ($TMPDIR, .kfault/, cache tmp/, half-written harness builds) | 0 | **${c.runsWithLeftovers}**${c.runsWithLeftovers ? ` (${c.kills.filter((k) => k.leftovers.length).map((k) => `run ${k.run}, ${k.planned.signal} in ${k.killedIn}: ${k.leftovers.map((f) => f.split('/').pop()).join(', ')}`).join('; ')})` : ''} |`);
    p(`| left at the end, after the next run | 0 | **${c.leftoversAtEnd.length}** |`);
    p(`| the next run, no manual step (a whole sweep and kmemleak check) | works | **${c.nextRunWorked ? 'works' : 'FAILED'}** (${c.nextRun}) |`);
    p(`| slowest exit after SIGINT or SIGTERM | | ${ms(c.maxExitMs)} |`);
    p();
  }
  const mem = r.sections.memory;
  if (mem) {
    const mib = (kib) => (kib === null || kib === undefined || !Number.isFinite(kib) ? '–' : `${Math.round(kib / 1024)} MiB`);
    p(`**Memory** (${when(mem)})`);
    p();
    p('| what | peak |');
    p('|---|---|');
    p(`| host: \`kfault sweep\` of the whole catalogue (Node process, peak RSS) | ${mib(mem.hostCli.peakRssKiB)} |`);
    p(`| QEMU (peak RSS, guest of ${mem.atDefault.memMiB} MiB) | ${mib(mem.atDefault.qemuMaxRssKiB)} |`);
    p(`| guest agent (Node in the guest, peak RSS) | ${mib(mem.atDefault.agentMaxRssKiB)} |`);
    p(`| guest memory in use after the catalogue (MemTotal − MemAvailable) | ${mib(mem.atDefault.guestUsedKiB)} |`);
    p(`| guest RAM the catalogue needs (smallest -m that swept it and checked kmemleak) | ${mem.guestRamNeededMiB ? `${mem.guestRamNeededMiB} MiB` : 'not found below the default'}${mem.tries.filter((t) => !t.ok).length ? ` (${mem.tries.filter((t) => !t.ok).map((t) => `${t.memMiB} MiB failed: ${t.why}`).join('; ')})` : ''} |`);
    p();
  }
  // Where KVM ran the guests, the same sections were run again under TCG: their tables follow.
  const tcg = Object.fromEntries(Object.entries(r.sections).filter(([, x]) => x?.tcg).map(([k, x]) => [k, x.tcg]));
  if (Object.keys(tcg).length) {
    p();
    p(`**The same under TCG** (the tables above ran under KVM; these sections ran again right after with \`machine.accel: 'tcg'\`)`);
    p();
    lines.push(markdown({ ...r, accel: 'tcg', sections: tcg }));
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- main

const readme = join(root, 'README.md');
const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

/** The README shows bench/results.md verbatim between its markers: written here, so they cannot drift. */
function spliceReadme(md) {
  if (!existsSync(readme)) return false;
  const text = readFileSync(readme, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return false;
  writeFileSync(readme, `${text.slice(0, a + START.length)}\n${md}\n${text.slice(b)}`);
  return true;
}

function chaosRun() {
  const seed = Number(process.env.BENCH_CHAOS_SEED ?? Date.now() % 1e9);
  log(`chaos: seed ${seed} (again with BENCH_CHAOS_SEED=${seed})`);
  return chaosSection(Number(process.env.BENCH_CHAOS_RUNS ?? 20), seed, log);
}

async function main() {
  log(`sections: ${only.join(', ')}; rounds: ${ROUNDS}`);
  const programs = buildPrograms();
  const config = parseConfig(existsSync(join(root, 'kfault.config.json')) ? JSON.parse(readFileSync(join(root, 'kfault.config.json'), 'utf8')) : {});
  const t0 = now();
  const kernel = await ensureKernel(config);
  const coldBuiltMs = kernel.origin === 'built' ? now() - t0 : null;
  const previous = existsSync(resultsJson) ? JSON.parse(readFileSync(resultsJson, 'utf8')) : null;
  const results = { schema: 'kfault/bench@1', machine: machine(), guestKernel: null, accel: null, sections: { ...(previous?.sections ?? {}) } };
  const run = { sweep: (c) => sweepSection(c, kernel, programs), profile: (c) => profileSection(c, kernel, programs), boot: (c) => bootSection(c, kernel, programs), leak: (c) => leakSection(c, kernel), memory: (c) => memorySection(c, kernel), build: () => buildSection({ root, here, kernel, coldBuiltMs, log, stats, now, scratchRoot: bin }), determinism: (c) => determinismSection(c, kernel, Number(process.env.BENCH_DETERMINISM_ROUNDS ?? 20), log), 'leak-detection': (c) => leakDetectionSection(c, kernel, Number(process.env.BENCH_LEAK_ROUNDS ?? 20), log), chaos: () => chaosRun() };
  const stamp = () => ({ date: new Date().toISOString(), loadavgStart: loadavg().map((x) => Number(x.toFixed(2))) });
  for (const name of SECTIONS) {
    if (!only.includes(name)) continue;
    const at = stamp();
    const r = await run[name](config);
    results.sections[name] = { ...at, loadavgEnd: loadavg().map((x) => Number(x.toFixed(2))), ...r };
    // A section whose guests ran under KVM runs again under TCG, so both sets of figures are shown
    // (a kernel developer's machine has KVM; CI machines often have only TCG).
    if (r?.accel === 'kvm') {
      log(`${name}: the guests ran under KVM; the same section again under TCG`);
      const again = stamp();
      const t = await run[name]({ ...config, machine: { ...config.machine, accel: 'tcg' } });
      results.sections[name].tcg = { ...again, loadavgEnd: loadavg().map((x) => Number(x.toFixed(2))), ...t };
    }
    writeFileSync(resultsJson, JSON.stringify(results, null, 2) + '\n');
  }
  results.guestKernel = results.sections.sweep?.kernel ?? previous?.guestKernel ?? null;
  results.accel = results.sections.sweep?.accel ?? results.sections.boot?.accel ?? previous?.accel ?? null;
  results.machine.loadavgEnd = loadavg().map((x) => Number(x.toFixed(2)));
  writeFileSync(resultsJson, JSON.stringify(results, null, 2) + '\n');
  const md = markdown(results);
  writeFileSync(resultsMd, md + '\n');
  process.stdout.write(md + '\n');
  log(`wrote ${resultsJson} and ${resultsMd}${spliceReadme(md) ? `, and the table into ${readme}` : ''}`);
}

if (process.argv.includes('--readme')) {
  // only write bench/results.md from bench/results.json again and put it into the README
  const md = markdown(JSON.parse(readFileSync(resultsJson, 'utf8')));
  writeFileSync(resultsMd, md + '\n');
  const ok = spliceReadme(md);
  log(ok ? `spliced ${resultsMd} into ${readme}` : `no ${START} ... ${END} in ${readme}`);
  process.exit(ok ? 0 : 1);
}

main().then(
  () => process.exit(0),
  (e) => {
    log(`failed: ${e.stack ?? e}`);
    process.exit(1);
  },
);
