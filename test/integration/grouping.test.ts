// One problem per bug, on the real guest: the test module's planted leak hit at two failure
// points of one sweep (harness.c:leak2 runs the leaky ioctl twice, so its third allocation fails
// at the module's nth=3 and nth=6, and each time the first one is not freed) is ONE grouped
// problem: count 2, both nths, one allocation site. In the JSON, the CLI's text, JUnit and KTAP.
// And an oops's group names the fault of the step that crashed the guest (read from the console).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupProblems } from '../../src/reports/groups.js';
import { ResultsFile } from '../../src/results-file.js';

const bin = new URL('../../bin/kfault.js', import.meta.url).pathname;
const fixture = new URL('../fixtures/kfault-test-module', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'kfault-grouping-'));
let saved: ResultsFile;
let junitXml: string;

// As in positive-controls.test.ts: a fault point that logged nothing and that the kernel got over
// (SLUB's high-order try for a new slab page) is not one of the module's allocations; own(r, nth)
// is the nth counted in the module's allocations only.
type Result = ResultsFile['results'][number];
const silent = (s: Result['steps'][number]) => s.injected && s.ret >= 0 && !s.kmsg.includes('FAULT_INJECTION: forcing a failure');
const own = (r: Result, nth: number) => nth - r.steps.filter((s) => s.nth < nth && silent(s)).length;

beforeAll(() => {
  const r = spawnSync(process.execPath, [bin, 'sweep', `${fixture}/harness.c:leak2`, '--module', fixture, '--json', '--junit', join(dir, 'junit.xml')], { encoding: 'utf8', timeout: 600_000 });
  expect(r.status, r.stderr).toBe(1); // a leak: exit 1, as before grouping
  saved = ResultsFile.parse(JSON.parse(r.stdout));
  writeFileSync(join(dir, 'results.json'), r.stdout);
  junitXml = readFileSync(join(dir, 'junit.xml'), 'utf8');
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('one planted leak at two nths: one grouped problem', () => {
  it('the JSON keeps every step and both leaks, tied to their steps (the module\'s nth 3 and 6)', () => {
    const r = saved.results[0]!;
    expect(r.harness).toBe('harness.c(leak2)');
    expect(r.complete).toBe(true);
    expect(r.leaks.map((l) => own(r, l.nth!))).toEqual([3, 6]);
    for (const { nth, leak } of r.leaks) {
      expect(leak.comm).toBe(`kf#${nth}`);
      expect(r.steps.find((s) => s.nth === nth)).toMatchObject({ errno: 'ENOMEM', injected: true });
    }
    // the module's six allocations fail in turn, then the run succeeds
    expect(r.steps.filter((s) => !silent(s)).map((s) => s.errno)).toEqual(['ENOMEM', 'ENOMEM', 'ENOMEM', 'ENOMEM', 'ENOMEM', 'ENOMEM', null]);
  });

  it('the JSON has one group for them: count 2, both nths, one allocation site', () => {
    const r = saved.results[0]!;
    const nths = r.leaks.map((l) => l.nth!);
    expect(saved.groups).toHaveLength(1);
    const g = saved.groups[0]!;
    expect(g).toMatchObject({ kind: 'leak', title: 'memory leak in kfault_test_alloc', count: 2, firstNth: nths[0], nths, harnesses: ['harness.c(leak2)'] });
    expect(g.sites).toHaveLength(1);
    expect(g.sites[0]).toMatch(/^kfault_test_alloc\+0x[0-9a-f]+$/);
    expect(g.signature).toMatch(/^leak\|kfault_test_alloc <- leaky <- kfault_test_ioctl <- /);
    expect(g.occurrences.map((o) => o.text)).toEqual([expect.stringMatching(/^1 object, 256 bytes, allocated at kfault_test_alloc\+0x[0-9a-f]+ <- leaky$/), expect.stringMatching(/^1 object, 256 bytes, allocated at kfault_test_alloc\+0x[0-9a-f]+ <- leaky$/)]);
    expect(saved.groups).toEqual(groupProblems(saved.results));
  });

  it('the CLI prints one block for it, with both nths', () => {
    const r = spawnSync(process.execPath, [bin, 'report', join(dir, 'results.json')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const [a, b] = saved.results[0]!.leaks.map((l) => l.nth);
    const block = r.stdout.slice(r.stdout.indexOf('\nproblems:') + 1).split('\n').slice(0, 5);
    expect(block).toEqual([
      'problems: 1 distinct, hit 2 times:',
      '  memory leak in kfault_test_alloc',
      `    leak, count 2: harness.c(leak2) nth=${a}, ${b} (first nth=${a})`,
      expect.stringMatching(/^ {4}fault sites: kfault_test_alloc\+0x[0-9a-f]+$/),
      expect.stringMatching(new RegExp(`^ {4}first: harness\\.c\\(leak2\\) nth=${a}: 1 object, 256 bytes, allocated at kfault_test_alloc\\+0x[0-9a-f]+ <- leaky$`)),
    ]);
    // the step table still shows every step
    for (const s of saved.results[0]!.steps) expect(r.stdout).toMatch(new RegExp(`^ +${s.nth}  `, 'm'));
  });

  it('JUnit and KTAP: one failure for it, not one per step', () => {
    expect(junitXml.match(/<failure /g)).toHaveLength(1);
    expect(junitXml).toContain('name="memory leak in kfault_test_alloc"');
    const k = spawnSync(process.execPath, [bin, 'report', join(dir, 'results.json'), '--format', 'ktap'], { encoding: 'utf8' });
    expect(k.status, k.stderr).toBe(0);
    const notOk = k.stdout.split('\n').filter((l) => /^\s*not ok /.test(l));
    const [a, b] = saved.results[0]!.leaks.map((l) => l.nth);
    expect(notOk).toEqual([
      expect.stringMatching(new RegExp(`^ {4}not ok \\d+ memory leak in kfault_test_alloc # leak at nth=${a}, ${b} \\(count 2\\): `)),
      'not ok 1 harness.c(leak2)',
    ]);
  });
});

describe('an oops: its group names the fault of the step that took the guest down', () => {
  let oops: ResultsFile;

  beforeAll(() => {
    const r = spawnSync(process.execPath, [bin, 'sweep', `${fixture}/harness.c:oops`, '--module', fixture, '--json', '--leaks', 'off'], { encoding: 'utf8', timeout: 600_000 });
    expect(r.status, r.stderr).toBe(1);
    oops = ResultsFile.parse(JSON.parse(r.stdout));
  }, 600_000);

  it('one group, titled by the report and its function, with the call site from the console', () => {
    const r = oops.results[0]!;
    expect(r.crashes).toHaveLength(1);
    expect(own(r, r.crashes[0]!.nth)).toBe(2);
    expect(r.crashes[0]!.fault).toMatchObject({ injector: 'failslab', callSite: expect.stringMatching(/^kfault_test_alloc\+0x[0-9a-f]+$/), caller: 'oopsy' });
    expect(oops.groups.map(({ occurrences: _, signature: __, ...g }) => g)).toEqual([
      { kind: 'oops', title: 'BUG: kernel NULL pointer dereference in oopsy', count: 1, firstNth: r.crashes[0]!.nth, nths: [r.crashes[0]!.nth], range: String(r.crashes[0]!.nth), sites: [r.crashes[0]!.fault!.callSite], harnesses: ['harness.c(oops)'] },
    ]);
  });
});
