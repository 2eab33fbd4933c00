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
let stdout: string;
const of = (arg: string) => saved.results.find((r) => r.harness === `harness.c(${arg})`)!;

// Every step, exactly: nth, errno (null when the call succeeded). Slab refills are not counted
// (refill-filter.ts), so the module's three allocations are steps 1-3 on every kernel and boot.
type Result = ResultsFile['results'][number];
const steps = (r: Result) => r.steps.map((s) => [s.nth, s.errno]);

beforeAll(() => {
  // leak first and oops after it: the crash reboots the guest, and the leak must still be found
  const args = ['leak', 'oops', 'warn', 'clean'].map((a) => `${fixture}/harness.c:${a}`);
  const r = spawnSync(process.execPath, [bin, 'sweep', ...args, '--module', fixture, '--json'], { encoding: 'utf8', timeout: 600_000 });
  expect(r.status, r.stderr).toBe(1); // problems found
  stdout = r.stdout;
  saved = ResultsFile.parse(JSON.parse(r.stdout));
}, 600_000);

describe('positive controls: the test module on the real guest', () => {
  it('the leak, at nth=3 (the third allocation fails, the first is not freed), with its backtrace', () => {
    const r = of('leak');
    expect(r.leaks.map((l) => l.nth)).toEqual([3]);
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
    expect(r.crashes[0]!.nth).toBe(2);
    expect(r.crashes[0]!.at).toMatch(/^oopsy\+0x[0-9a-f]+\/0x[0-9a-f]+ \[kfault_test\]$/);
    expect(steps(r)).toEqual([[1, 'ENOMEM'], [3, 'ENOMEM'], [4, null]]);
    expect(r.complete).toBe(true);
    expect(saved.restarts).toBe(1);
  });

  it('the warning, at nth=2, from the step that logged it', () => {
    const r = of('warn');
    expect(problems(r).map((p) => p.nth)).toEqual([2]);
    expect(problems(r)).toEqual([{ nth: 2, kind: 'warning', text: expect.stringMatching(/^WARNING: CPU: \d+ PID: \d+ at .*kfault_test\.c:\d+ warny\+/) }]);
  });

  it('nothing on the correct error paths', () => {
    const r = of('clean');
    expect(steps(r)).toEqual([[1, 'ENOMEM'], [2, 'ENOMEM'], [3, 'ENOMEM'], [4, null]]);
    expect(problems(r)).toEqual([]);
    expect(saved.kmemleak).toMatchObject({ enabled: true, unattributed: [] });
  });

  it('every failure point carries its call site', () => {
    for (const r of saved.results) {
      for (const s of r.steps.filter((x) => x.injected)) expect(s.fault?.callSite, `${r.harness} nth=${s.nth}`).toMatch(/^kfault_test_alloc\+0x/);
    }
    expect(stdout).not.toBe('');
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
    expect(r.crashes[0]!.nth).toBe(2);
    expect(steps(r)).toEqual([[1, 'ENOMEM'], [3, 'ENOMEM'], [4, null]]);
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
