// The chaos section of npm run bench: `kfault sweep` killed (SIGINT, SIGTERM, SIGKILL) at random
// moments of RUNS runs, in each of its phases: the harness build, the boot, the sweep, the
// recovery from a hung step (QEMU killed, a fresh guest) and the kmemleak check. After each kill:
// the QEMU processes of that run still alive (goal 0: a guest that survives could hold armed
// faults), and what is left in the run's $TMPDIR, the repository's .kfault/, kfault's cache tmp/
// and harness build dir (goal 0). At the end, one run that is not killed must work with no manual
// step (goal: no corrupted cache). The schedule is seeded; the seed is printed and saved.
//
//   node bench/run.mjs --only chaos        (BENCH_CHAOS_RUNS, default 20; BENCH_CHAOS_SEED)
//   node bench/chaos.mjs [RUNS] [SEED]     (alone: prints the section's JSON)
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../dist/paths.js';

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const bin = join(root, 'bin/kfault.js');
export const PHASES = ['build', 'boot', 'sweep', 'recovery', 'kmemleak'];
export const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGKILL'];
/** how long into a phase a kill may come, at most (ms): about the phase's length under TCG */
const PHASE_SPAN = { build: 150, boot: 15_000, sweep: 4_000, recovery: 20_000, kmemleak: 12_000 };
/** each phase must be reached within this, or the run is reported as having failed on its own */
const PHASE_WAIT_MS = 240_000;

export function mulberry32(seed) {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let x = Math.imul(t ^ (t >>> 15), 1 | t);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** runs kills: every phase as often as the others (shuffled), a random signal and moment each. */
export function schedule(runs, seed) {
  const rnd = mulberry32(seed);
  const phases = Array.from({ length: runs }, (_, i) => PHASES[i % PHASES.length]);
  for (let i = phases.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [phases[i], phases[j]] = [phases[j], phases[i]];
  }
  return phases.map((phase) => ({ phase, signal: SIGNALS[Math.floor(rnd() * SIGNALS.length)], afterMs: Math.round(rnd() * PHASE_SPAN[phase]) }));
}

/** Processes whose command line matches test, read from /proc (no procps in the CI image). */
export function processes(test) {
  const found = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let argv;
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue; // exited while we looked
    }
    if (argv.length && test(argv)) found.push({ pid: Number(pid), argv });
  }
  return found;
}

/** The QEMU processes of a run: their command line names the agent socket under its TMPDIR. */
export const qemusOf = (tmp) => processes((argv) => argv.some((a) => /qemu-system/.test(a)) && argv.some((a) => a.includes(tmp)));

const list = (dir, keep = () => true) => (existsSync(dir) ? readdirSync(dir).filter(keep).map((f) => join(dir, f)) : []);

/** What kfault leaves that is not meant to stay: temp dirs and scratch files (console logs are kept by design). */
export function leftovers(tmp, before) {
  return [
    ...list(tmp),
    ...list(join(root, '.kfault'), (f) => !/^console-.*\.log$/.test(f) && !before.kfault.has(f)),
    ...list(join(cacheDir(), 'tmp'), (f) => !before.cacheTmp.has(f)),
    ...list(join(cacheDir(), 'harnesses'), (f) => /\.tmp/.test(f)),
  ];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One `kfault sweep` of the chaos harness, killed with signal afterMs into phase (null: not killed). */
async function oneRun({ src, arg, tmp, config, kill }) {
  const child = spawn(process.execPath, [bin, 'sweep', `${src}:${arg}`, '--config', config, '--print-qemu', '--json'], { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
  const t0 = Date.now();
  let stderr = '';
  let stdout = '';
  let phase = 'build';
  const seen = { build: t0 };
  let firstQemu = null;
  const enter = (p) => {
    if (seen[p]) return;
    seen[p] = Date.now();
    phase = p;
  };
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    if (/kfault: guest up/.test(stderr)) enter('sweep');
    if (/kfault: kmemleak: scan/.test(stderr)) enter('kmemleak');
  });
  const exited = new Promise((res) => child.on('exit', (code, sig) => res({ code, sig })));
  let done = null;
  exited.then((x) => (done = x));
  // the phases kfault does not print: found in /proc (its C compiler; its QEMU, and QEMU gone)
  const watch = setInterval(() => {
    if (done) return;
    const q = qemusOf(tmp);
    if (q.length && !firstQemu) {
      firstQemu = q[0].pid;
      enter('boot');
    }
    if (firstQemu && seen.sweep && !seen.kmemleak && !q.some((p) => p.pid === firstQemu)) enter('recovery');
  }, 20);
  let killedIn = null;
  let killedAtMs = null;
  if (kill) {
    const deadline = Date.now() + PHASE_WAIT_MS;
    if (kill.phase === 'build') {
      // the compiler at work on this run's source
      while (!done && !seen.boot && Date.now() < deadline && !processes((argv) => argv.includes(src)).length) await sleep(2);
    } else {
      while (!done && Date.now() < deadline && !seen[kill.phase]) await sleep(20);
    }
    if (!done) {
      await sleep(kill.afterMs);
      if (!done) {
        killedIn = phase;
        killedAtMs = Date.now() - t0;
        child.kill(kill.signal);
      }
    }
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), kill ? 60_000 : 600_000);
  const end = await exited;
  clearTimeout(timer);
  clearInterval(watch);
  return { src, killedIn, killedAtMs, exitMs: killedAtMs === null ? null : Date.now() - t0 - killedAtMs, exit: end, stdout, stderr, phasesSeen: Object.keys(seen) };
}

export async function chaosSection(runs, seed, log = () => {}) {
  const work = join(cacheDir(), 'bench', `chaos-${seed}`);
  const tmp = join(work, 'tmp');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const config = join(work, 'kfault.config.json');
  // a hung step is declared after 5 s (default 60 s), so that recovery comes quickly
  writeFileSync(config, JSON.stringify({ machine: { stepTimeoutMs: 5000 } }));
  const before = { kfault: new Set(list(join(root, '.kfault')).map((p) => p.split('/').pop())), cacheTmp: new Set(list(join(cacheDir(), 'tmp')).map((p) => p.split('/').pop())) };
  const harnessText = readFileSync(join(root, 'bench/chaos-harness.c'), 'utf8');
  const sources = [];
  const source = (i) => {
    const src = join(work, `chaos-${i}.c`);
    writeFileSync(src, `/* chaos run ${i}, seed ${seed} */\n${harnessText}`);
    sources.push(src);
    return src;
  };
  const plan = schedule(runs, seed);
  log(`chaos: seed ${seed}; ${runs} runs: ${plan.map((k) => `${k.phase}/${k.signal}/${k.afterMs}ms`).join(', ')}`);
  const kills = [];
  const t0 = performance.now();
  for (const [i, k] of plan.entries()) {
    const r = await oneRun({ src: source(i), arg: 'hang', tmp, config, kill: k });
    // QEMU dies with kfault (PDEATHSIG, or kfault's own signal handler): give it a moment
    let qemu = qemusOf(tmp);
    for (let waited = 0; qemu.length && waited < 5000; waited += 100) {
      await sleep(100);
      qemu = qemusOf(tmp);
    }
    for (const q of qemu) process.kill(q.pid, 'SIGKILL'); // so that the next run is not disturbed
    // a compiler kfault started goes on after kfault is killed, with its own temp files in
    // $TMPDIR: what is counted is what stays once it is done
    for (let waited = 0; processes((argv) => argv.includes(r.src)).length && waited < 10_000; waited += 50) await sleep(50);
    const left = leftovers(tmp, before);
    const failedOnItsOwn = r.killedIn === null ? `exit ${r.exit.code ?? r.exit.sig} before ${k.phase}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` : null;
    kills.push({ run: i + 1, planned: k, killedIn: r.killedIn, atMs: r.killedAtMs, exitMs: r.exitMs, exit: r.exit.sig ?? r.exit.code, qemuLeft: qemu.length, leftovers: left, failedOnItsOwn });
    log(`chaos: run ${i + 1}/${runs}: ${k.signal} in ${r.killedIn ?? `(not reached: ${failedOnItsOwn})`} at ${r.killedAtMs} ms (planned ${k.phase} + ${k.afterMs} ms); exit ${r.exit.sig ?? r.exit.code} after ${r.exitMs} ms; QEMU left ${qemu.length}; leftovers ${left.length ? left.join(', ') : 'none'}`);
  }
  // the next run after all that: no manual step, a whole sweep with its kmemleak check
  const last = await oneRun({ src: source(runs), arg: 'plain', tmp, config, kill: null });
  let lastOk = false;
  let lastWhy = '';
  try {
    const saved = JSON.parse(last.stdout);
    // exit 1 is a problem found (a leak, say), not a run that failed: it worked if it swept to the end and checked
    lastOk = (last.exit.code === 0 || last.exit.code === 1) && saved.results[0].complete && saved.kmemleak?.enabled === true;
    lastWhy = `exit ${last.exit.code ?? last.exit.sig}, sweep ${saved.results[0].complete ? 'complete' : 'INCOMPLETE'} (${saved.results[0].steps.length} steps), kmemleak ${saved.kmemleak?.enabled ? 'checked' : 'NOT checked'}`;
  } catch (e) {
    lastWhy = `exit ${last.exit.code ?? last.exit.sig}: ${e.message}: ${last.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  }
  const qemuAtEnd = qemusOf(tmp).length;
  const leftAtEnd = leftovers(tmp, before);
  log(`chaos: the run after: ${lastOk ? 'worked' : 'FAILED'} (${lastWhy}); QEMU left ${qemuAtEnd}; leftovers ${leftAtEnd.length ? leftAtEnd.join(', ') : 'none'}`);
  // what the bench made: its sources, their builds in the harness cache, the run's TMPDIR
  for (const s of sources) for (const so of list(join(cacheDir(), 'harnesses'), (f) => f.startsWith(s.split('/').pop().replace(/\.c$/, '-')))) rmSync(so, { force: true });
  rmSync(work, { recursive: true, force: true });
  const bySignal = Object.fromEntries(SIGNALS.map((s) => [s, kills.filter((k) => k.planned.signal === s && k.killedIn).length]));
  const byPhase = Object.fromEntries(PHASES.map((p) => [p, kills.filter((k) => k.killedIn === p).length]));
  return {
    seed,
    runs,
    seconds: Math.round((performance.now() - t0) / 1000),
    killed: kills.filter((k) => k.killedIn).length,
    bySignal,
    byPhase,
    qemuOrphans: kills.reduce((n, k) => n + k.qemuLeft, 0) + qemuAtEnd,
    runsWithLeftovers: kills.filter((k) => k.leftovers.length).length,
    leftoversAtEnd: leftAtEnd,
    maxExitMs: Math.max(0, ...kills.filter((k) => k.exitMs !== null && k.planned.signal !== 'SIGKILL').map((k) => k.exitMs)),
    nextRunWorked: lastOk,
    nextRun: lastWhy,
    kills,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const runs = Number(process.argv[2] ?? 5);
  const seed = Number(process.argv[3] ?? Date.now() % 1e9);
  const r = await chaosSection(runs, seed, (m) => process.stderr.write(m + '\n'));
  process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  process.exit(0);
}
