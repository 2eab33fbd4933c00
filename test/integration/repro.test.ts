// kfault repro on the real thing: the test module's leak, oops and warning are swept through the
// CLI (as positive-controls.test.ts does), `kfault repro` writes and builds a C reproducer for
// each, and each reproducer runs as (a child of) the init of a fresh guest booted without the
// agent, without Node and without kfault.guest=1 on its command line, with the module loaded by
// the init script first. Each must show the same problem kfault saw.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocatedAt } from '../../src/attribution.js';
import { parseConfig } from '../../src/config.js';
import { bareDir, bootWithInit, writeBareInit, type BareRun } from '../../src/guest/bare.js';
import { ensureKernel } from '../../src/kernel/build.js';
import { parseConsoleCrash } from '../../src/kmsg/crash.js';
import { parseFaultSites } from '../../src/kmsg/fault-trace.js';
import { parseKmemleakReport } from '../../src/kmsg/kmemleak-report.js';
import { kernelProblems } from '../../src/kmsg/problems.js';
import { ResultsFile } from '../../src/results-file.js';
import { generateRepro } from '../../src/repro/generate.js';

const bin = new URL('../../bin/kfault.js', import.meta.url).pathname;
const fixture = new URL('../fixtures/kfault-test-module', import.meta.url).pathname;
const dir = bareDir(`repro-test-${process.pid}`);
const resultsPath = join(dir, 'results.json');
let saved: ResultsFile;
let image: string;
let reproStdout: string;

const problemOf = (arg: string, kind: string) => {
  const p = saved.problems.find((x) => x.harness === `harness.c(${arg})` && x.kind === kind);
  if (!p?.reproducer) throw new Error(`no ${kind} problem with a reproducer for harness.c(${arg}) in ${resultsPath}`);
  return p as typeof p & { reproducer: NonNullable<typeof p.reproducer>; nth: number };
};
const resultOf = (arg: string) => saved.results.find((r) => r.harness === `harness.c(${arg})` || r.harness === arg)!;
/** Where kfault's sweep saw the fault of step nth strike: "kfault_test_alloc+0xe <- leaky". */
const sweepSite = (arg: string, nth: number) => {
  const f = resultOf(arg).steps.find((s) => s.nth === nth)?.fault;
  return f?.callSite ? [f.callSite, f.caller].filter(Boolean).join(' <- ') : null;
};

/** Boots a bare guest whose init loads the module and runs the reproducer twice: without
 * --yes-inject (it must refuse), then with it. */
async function runInGuest(arg: string, kind: string): Promise<BareRun & { text: string }> {
  const p = problemOf(arg, kind);
  const program = join(dir, p.reproducer.file.replace(/\.c$/, ''));
  const init = writeBareInit(join(dir, `init-${arg}.sh`), { modules: saved.modules.map((m) => m.path), commands: [[program], [program, '--yes-inject']] });
  const run = await bootWithInit({ image, init, timeoutMs: 240_000 });
  writeFileSync(join(dir, `console-${arg}.log`), run.console.join('\n') + '\n');
  return { ...run, text: run.console.join('\n') };
}

/** What the reproducer printed between two of its markers. */
function section(text: string, start: string, end: string): string {
  const a = text.indexOf(start);
  const b = text.indexOf(end, a);
  expect(a, `no "${start}" in the console`).toBeGreaterThanOrEqual(0);
  expect(b).toBeGreaterThan(a);
  return text.slice(a + start.length, b);
}

/** The reproducer's armed step: the kernel log it printed, parsed for the fault's call site. */
function stepSite(text: string, nth: number): string | null {
  const log = section(text, `---- kernel log of step nth=${nth} ----\n`, `---- end of the kernel log of step nth=${nth} ----`);
  const f = parseFaultSites(log)[0];
  return f?.callSite ? [f.callSite, f.caller].filter(Boolean).join(' <- ') : null;
}

const expectRefusedThenRan = (run: BareRun & { text: string }, status: number) => {
  expect(run.timedOut, run.text.slice(-3000)).toBe(false);
  expect(run.text).toContain('kfault-repro: refusing: no --yes-inject, and no kfault.guest=1 on the kernel command line');
  expect(run.text).toMatch(/kfault-bare: exit 2 of 1/);
  expect(run.text).toMatch(new RegExp(`kfault-bare: exit ${status} of 2`));
  expect(run.text).toMatch(/kfault-repro: restored the fault-injection settings \(\d+ of \d+ values had changed\)\n/);
  expect(run.text).not.toContain('SOME COULD NOT BE RESTORED');
};

beforeAll(async () => {
  const args = [...['leak', 'oops', 'warn'].map((a) => `${fixture}/harness.c:${a}`), 'pipe2'];
  const r = spawnSync(process.execPath, [bin, 'sweep', ...args, '--module', fixture, '--json'], { encoding: 'utf8', timeout: 600_000 });
  expect(r.status, r.stderr).toBe(1); // problems found
  writeFileSync(resultsPath, r.stdout);
  saved = ResultsFile.parse(JSON.parse(r.stdout));
  const rp = spawnSync(process.execPath, [bin, 'repro', resultsPath, '--out', dir], { encoding: 'utf8', timeout: 120_000 });
  expect(rp.status, rp.stderr + rp.stdout).toBe(0);
  reproStdout = rp.stdout;
  image = (await ensureKernel(parseConfig({}))).image;
}, 720_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('kfault repro: the results file', () => {
  it('gives each problem a reproducer, and kfault repro writes and builds each one', () => {
    const withRepro = saved.problems.filter((p) => p.reproducer);
    expect(withRepro.map((p) => [p.harness, p.kind])).toEqual([
      ['harness.c(leak)', 'leak'],
      ['harness.c(oops)', 'oops'],
      ['harness.c(warn)', 'warning'],
    ]);
    for (const p of withRepro) {
      expect(p.reproducer!.command).toBe(`kfault repro RESULTS.json --problem ${p.reproducer!.problem}`);
      expect(reproStdout).toContain(`  wrote ${join(dir, p.reproducer!.file)}\n`);
      expect(reproStdout).toContain(`  built ${join(dir, p.reproducer!.file.replace(/\.c$/, ''))} (cc -O2 -o `);
    }
  });

  it("records the harness's C file, kmemleak's text by function names, the module and the kfault version", () => {
    const r = resultOf('leak');
    expect(r.setup?.source?.text).toBe(readFileSync(`${fixture}/harness.c`, 'utf8'));
    expect(r.setup?.kmemleakText).toEqual([expect.stringMatching(/^\w+$/), expect.stringMatching(/^\w+$/)]);
    expect(r.kmemleakFilter.applied).toBe(true);
    expect(saved.modules.map((m) => m.path.split('/').pop())).toEqual(['kfault_test.ko']);
    expect(saved.kfault).toBe(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
  });
});

describe('each reproducer, as the init of a fresh bare guest, shows the same problem', () => {
  it('the leak: the same allocation site, from the step kf#<nth>, in the report it prints', async () => {
    const p = problemOf('leak', 'leak');
    const r = resultOf('leak');
    const expected = r.leaks.filter((l) => l.nth === p.nth).map((l) => l.leak);
    const run = await runInGuest('leak', 'leak');
    expectRefusedThenRan(run, 1);
    expect(sweepSite('leak', p.nth)).toBe('kfault_test_alloc+0xe <- leaky');
    expect(stepSite(run.text, p.nth)).toBe(sweepSite('leak', p.nth));
    const leaks = parseKmemleakReport(section(run.text, '---- kmemleak report ----\n', '---- end of the kmemleak report ----'));
    const mine = leaks.filter((l) => l.comm === `kf#${p.nth}`);
    expect(mine.map((l) => [allocatedAt(l), l.size])).toEqual(expected.map((l) => [allocatedAt(l), l.size]));
    expect(allocatedAt(mine[0]!)).toBe('kfault_test_alloc+0xe <- leaky');
    expect(run.text).toContain(`kfault-repro: REPRODUCED: leak: 1 object(s) allocated by the step (comm kf#${p.nth}) at kfault_test_alloc+0xe <- leaky`);
  }, 300_000);

  it('the oops: the same title at the same place, on the console', async () => {
    const p = problemOf('oops', 'oops');
    const crash = resultOf('oops').crashes.find((c) => c.nth === p.nth)!;
    const run = await runInGuest('oops', 'oops');
    expectRefusedThenRan(run, 1);
    const report = parseConsoleCrash(run.console);
    expect(report).toMatchObject({ kind: 'oops', headline: crash.headline, at: crash.at, comm: `kf#${p.nth}` });
    expect(crash.headline).toMatch(/^BUG: kernel NULL pointer dereference/);
    expect(run.text).toContain(`kfault-repro: REPRODUCED: ${crash.headline}\n`);
  }, 300_000);

  it('the warning: the same WARNING (file, line and function), from the armed step', async () => {
    const p = problemOf('warn', 'warning');
    const run = await runInGuest('warn', 'warning');
    expectRefusedThenRan(run, 1);
    const noCpu = (w: string) => w.replace(/^WARNING: CPU: \d+ PID: \d+ /, 'WARNING: ');
    const warnings = kernelProblems(run.text).filter((l) => l.startsWith('WARNING: '));
    expect(warnings.length).toBeGreaterThan(0);
    expect(new Set(warnings.map(noCpu))).toEqual(new Set([noCpu(p.text)]));
    expect(noCpu(p.text)).toMatch(/^WARNING: at \S+kfault_test\.c:\d+ warny\+0x[0-9a-f]+\/0x[0-9a-f]+ \[kfault_test\]$/);
    expect(sweepSite('warn', p.nth)).toBe('kfault_test_alloc+0xe <- warny');
    expect(stepSite(run.text, p.nth)).toBe(sweepSite('warn', p.nth));
    expect(run.text).toMatch(/kfault-repro: REPRODUCED: WARNING: CPU: \d+ PID: \d+ at \S+kfault_test\.c:\d+ warny\+/);
  }, 300_000);
});

describe("a built-in harness's reproducer", () => {
  it("replays the sweep's failure points with --from 1: the same errnos at the same call sites, in order, then the end", async () => {
    // pipe2 has no problem: a reproducer is written for its last failure point as if it had one,
    // to compare each step of the replay with the sweep's. Silent points (injected, no trace, the
    // call succeeded: SLUB's high-order first try when a cache needs a new slab, see README) are
    // left out on both sides: whether one comes depends on the slabs' state in that guest.
    const r = resultOf('pipe2');
    const last = Math.max(...r.steps.filter((s) => s.injected).map((s) => s.nth));
    const g = generateRepro({ ...saved, modules: [] }, { id: 99, result: r, nth: last, kind: 'warning', text: 'WARNING: CPU: 0 PID: 0 at none.c:0 no_such_function+0x0/0x0' }, { resultsPath });
    writeFileSync(join(dir, g.file), g.text);
    expect(spawnSync('sh', ['-c', g.build], { cwd: dir, encoding: 'utf8' }).status).toBe(0);
    const program = join(dir, g.file.replace(/\.c$/, ''));
    const init = writeBareInit(join(dir, 'init-pipe2.sh'), { commands: [[program, '--yes-inject', '--from', '1', '--nth', String(last + 1)]] });
    const run = await bootWithInit({ image, init, timeoutMs: 240_000 });
    const text = run.console.join('\n');
    writeFileSync(join(dir, 'console-pipe2.log'), text + '\n');
    expect(run.timedOut).toBe(false);
    const replay = [...text.matchAll(/^kfault-repro: nth=(\d+): (the fault was injected|nothing was injected)[^;]*; the run returned (-?\d+)/gm)].map((m) => ({
      nth: Number(m[1]),
      injected: m[2] === 'the fault was injected',
      ret: Number(m[3]),
      site: stepSite(text, Number(m[1])),
    }));
    const sweep = r.steps.map((s) => ({ nth: s.nth, injected: s.injected, ret: s.ret, site: s.fault?.callSite ? [s.fault.callSite, s.fault.caller].filter(Boolean).join(' <- ') : null }));
    const silent = (x: { injected: boolean; ret: number; site: string | null }) => x.injected && x.ret === 0 && x.site === null;
    const logged = (xs: typeof sweep) => xs.filter((x) => !silent(x)).map(({ injected, ret, site }) => ({ injected, ret, site }));
    expect(logged(replay)).toEqual(logged(sweep));
    expect(sweep.filter((s) => s.ret < 0).length).toBeGreaterThanOrEqual(6);
    expect(replay.at(-1)).toMatchObject({ injected: false, ret: 0 });
    expect(text).toMatch(/kfault-bare: exit 0 of 1/); // no WARNING: nothing reproduced
  }, 300_000);
});
