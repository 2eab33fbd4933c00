// Positive controls: an out-of-tree module (test/fixtures/kfault-test-module) whose ioctls leak,
// dereference NULL and WARN on purpose, each on one error path. kfault builds it against the
// kernel it built, loads it in the guest, sweeps its harness (a user's C file) and must report
// exactly those three problems, at their steps, and nothing on the correct paths.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { problems } from '../../src/report.js';
import { ResultsFile } from '../../src/results-file.js';

const bin = new URL('../../bin/kfault.js', import.meta.url).pathname;
const fixture = new URL('../fixtures/kfault-test-module', import.meta.url).pathname;
let saved: ResultsFile;
const of = (arg: string) => saved.results.find((r) => r.harness === `harness.c(${arg})`)!;

// A fault point that logged nothing (a __GFP_NOWARN allocation) and that the kernel got over: in
// practice SLUB's first, high-order try when a cache needs a new slab page, which depends on the
// slab's state in that kernel (the CI image's 6.12.118 needs one where the host's 6.12.117 does
// not). The module's own allocations are counted without them: own(r, nth) is the nth of the
// module's path.
type Result = ResultsFile['results'][number];
const silent = (s: Result['steps'][number]) => s.injected && s.ret >= 0 && !s.kmsg.includes('FAULT_INJECTION: forcing a failure');
const own = (r: Result, nth: number | null) => (nth === null ? null : nth - r.steps.filter((s) => s.nth < nth && silent(s)).length);
const logged = (r: Result) => r.steps.filter((s) => !silent(s)).map((s) => [own(r, s.nth), s.errno]);

beforeAll(() => {
  // leak first and oops after it: the crash reboots the guest, and the leak must still be found
  const args = ['leak', 'oops', 'warn', 'clean'].map((a) => `${fixture}/harness.c:${a}`);
  const r = spawnSync(process.execPath, [bin, 'sweep', ...args, '--module', fixture, '--json'], { encoding: 'utf8', timeout: 600_000 });
  expect(r.status, r.stderr).toBe(1); // problems found
  saved = ResultsFile.parse(JSON.parse(r.stdout));
}, 600_000);

describe('positive controls: the test module on the real guest', () => {
  it('the leak, at nth=3 (the third allocation fails, the first is not freed), with its backtrace', () => {
    const r = of('leak');
    expect(r.leaks.map((l) => own(r, l.nth))).toEqual([3]);
    const { leak, nth } = r.leaks[0]!;
    expect(leak.comm).toBe(`kf#${nth}`);
    expect(leak.size).toBe(256); // kmalloc(200) comes from kmalloc-256
    expect(leak.frames.map((f) => f.split('+')[0])).toEqual(expect.arrayContaining(['kfault_test_alloc', 'leaky', 'kfault_test_ioctl']));
    expect(r.steps.find((s) => s.nth === nth)).toMatchObject({ errno: 'ENOMEM', injected: true });
    expect(problems(r)).toEqual([{ nth, kind: 'leak', text: '1 object, 256 bytes, allocated at kfault_test_alloc+0xe <- leaky' }]);
  });

  it('the oops, at nth=2, then a fresh guest and the rest of the sweep', () => {
    const r = of('oops');
    expect(r.crashes).toHaveLength(1);
    expect(r.crashes[0]).toMatchObject({ kind: 'oops', headline: expect.stringMatching(/^BUG: kernel NULL pointer dereference/) });
    expect(own(r, r.crashes[0]!.nth)).toBe(2);
    expect(r.crashes[0]!.at).toMatch(/^oopsy\+0x[0-9a-f]+\/0x[0-9a-f]+ \[kfault_test\]$/);
    expect(logged(r)).toEqual([[1, 'ENOMEM'], [3, 'ENOMEM'], [4, null]]);
    expect(r.complete).toBe(true);
    expect(saved.restarts).toBe(1);
  });

  it('the warning, at nth=2, from the step that logged it', () => {
    const r = of('warn');
    expect(problems(r).map((p) => own(r, p.nth))).toEqual([2]);
    expect(problems(r)).toEqual([{ nth: expect.any(Number), kind: 'warning', text: expect.stringMatching(/^WARNING: CPU: \d+ PID: \d+ at .*kfault_test\.c:\d+ warny\+/) }]);
  });

  it('nothing on the correct error paths', () => {
    const r = of('clean');
    expect(r.steps.filter((s) => s.injected && !silent(s)).map((s) => s.errno)).toEqual(['ENOMEM', 'ENOMEM', 'ENOMEM']);
    expect(problems(r)).toEqual([]);
    expect(saved.kmemleak).toMatchObject({ enabled: true, unattributed: [] });
  });

  it('every failure point carries its call site', () => {
    for (const r of saved.results) {
      for (const s of r.steps.filter((x) => x.injected && !silent(x))) expect(s.fault?.callSite, `${r.harness} nth=${s.nth}`).toMatch(/^kfault_test_alloc\+0x/);
    }
    // and the loop above saw every failure point: three allocations per ioctl, two steps left
    // of the oops (its second crashed the guest and is a crash entry, not a step)
    const points = saved.results.map((r) => [r.harness, r.steps.filter((x) => x.injected && !silent(x)).length]);
    expect(points).toEqual([['harness.c(leak)', 3], ['harness.c(oops)', 2], ['harness.c(warn)', 3], ['harness.c(clean)', 3]]);
  });
});

describe('a hang, and kmemleak that cannot check', () => {
  let hang: ResultsFile;
  let status: number | null;

  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'kfault-config-'));
    const config = join(dir, 'kfault.config.json');
    // kmemleak=off: the detector is off from boot, so every kmemleak command fails
    writeFileSync(config, JSON.stringify({ machine: { stepTimeoutMs: 10_000, cmdline: ['kmemleak=off'] }, modules: [fixture] }));
    const r = spawnSync(process.execPath, [bin, 'sweep', `${fixture}/harness.c:hang`, '--config', config, '--json'], { encoding: 'utf8', timeout: 600_000 });
    rmSync(dir, { recursive: true });
    status = r.status;
    expect(r.stdout, r.stderr).not.toBe('');
    hang = ResultsFile.parse(JSON.parse(r.stdout));
  }, 600_000);

  it('a step that never returns is killed at machine.stepTimeoutMs, reported as a hang, and the sweep goes on', () => {
    const r = hang.results[0]!;
    expect(r.crashes).toEqual([expect.objectContaining({ kind: 'hang', headline: 'no step finished within 10000 ms; QEMU was killed' })]);
    expect(own(r, r.crashes[0]!.nth)).toBe(2);
    expect(logged(r)).toEqual([[1, 'ENOMEM'], [3, 'ENOMEM'], [4, null]]);
    expect(hang.restarts).toBe(1);
  });

  it('kmemleak that cannot run is a failure of its own, never "no leaks"', () => {
    expect(hang.kmemleak).toMatchObject({ enabled: false, why: expect.stringMatching(/^stack=off: EPERM/) });
    expect(status).toBe(1);
  });
});

describe("a user's harness that crashes in user space", () => {
  it('is reported as killed by SIGSEGV at its steps, and the agent lives on', () => {
    const harness = new URL('../fixtures/harnesses/segv-on-enomem.c', import.meta.url).pathname;
    const r = spawnSync(process.execPath, [bin, 'sweep', harness, 'pipe2', '--json', '--leaks', 'off'], { encoding: 'utf8', timeout: 600_000 });
    expect(r.status, r.stderr).toBe(1);
    const saved = ResultsFile.parse(JSON.parse(r.stdout));
    const [segv, pipe2] = saved.results;
    const killed = segv!.steps.filter((s) => s.signal);
    expect(killed.length).toBeGreaterThan(0);
    expect(killed.every((s) => s.signal === 'SIGSEGV')).toBe(true);
    // the ENFILE error paths do not crash it, and the sweep reached its end
    expect(segv!.steps.filter((s) => s.errno === 'ENFILE').length).toBeGreaterThan(0);
    expect(segv!.complete).toBe(true);
    expect(problems(segv!).map((p) => p.kind)).toEqual(killed.map(() => 'signal'));
    // same guest, no reboot: the next harness was swept by the same agent
    expect(saved.restarts).toBe(0);
    expect(pipe2!.complete).toBe(true);
    expect(problems(pipe2!)).toEqual([]);
  }, 600_000);
});
