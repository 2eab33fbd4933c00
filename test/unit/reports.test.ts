// JUnit, KTAP and merged reports of results saved from a real guest (the positive controls).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ResultsFile } from '../../src/results-file.js';
import { junit } from '../../src/reports/junit.js';
import { ktap } from '../../src/reports/ktap.js';
import { mergeResults } from '../../src/reports/merge.js';

const path = new URL('../fixtures/results/stock-6.12.117-positive-controls.json', import.meta.url).pathname;
const saved = ResultsFile.parse(JSON.parse(readFileSync(path, 'utf8')));

/** Python's own XML parser reads the JUnit file back, as a CI system would. */
function parseJunit(xml: string) {
  const py = `
import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
print(json.dumps({"tests": int(root.get("tests")), "failures": int(root.get("failures")), "suites": [
  {"name": s.get("name"), "tests": int(s.get("tests")), "failures": int(s.get("failures")),
   "cases": [{"name": c.get("name"), "failures": [{"type": f.get("type"), "message": f.get("message"), "text": f.text} for f in c.findall("failure")]}
             for c in s.findall("testcase")]} for s in root.findall("testsuite")]}))
`;
  const r = spawnSync('python3', ['-c', py], { input: xml, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { tests: number; failures: number; suites: Array<{ name: string; tests: number; failures: number; cases: Array<{ name: string; failures: Array<{ type: string; message: string; text: string }> }> }> };
}

describe('JUnit', () => {
  const doc = parseJunit(junit(saved));

  it('a testsuite per harness, a testcase per failure point that went right and one per distinct problem', () => {
    expect(doc.suites.map((s) => [s.name, s.tests, s.failures])).toEqual([
      ['pipe2', 6, 0],
      ['harness.c(leak)', 3, 1],
      ['harness.c(oops)', 3, 1],
      ['harness.c(warn)', 3, 1],
      ['harness.c(clean)', 3, 0],
    ]);
    expect(doc).toMatchObject({ tests: 18, failures: 3 });
    expect(doc.suites[0]!.cases[0]!.name).toBe('nth=1 ENFILE alloc_inode+0x35 <- new_inode_pseudo');
    expect(doc.suites[1]!.cases.map((c) => c.name)).toEqual(['nth=1 ENOMEM kfault_test_alloc+0xe <- leaky', 'nth=2 ENOMEM kfault_test_alloc+0xe <- leaky', 'memory leak in kfault_test_alloc']);
    expect(doc.suites[2]!.cases.map((c) => c.name)).toEqual(['nth=1 ENOMEM kfault_test_alloc+0xe <- oopsy', 'BUG: kernel NULL pointer dereference in oopsy', 'nth=3 ENOMEM kfault_test_alloc+0xe <- oopsy']);
  });

  it('leaks, oopses and warnings are failures carrying the kernel log excerpt', () => {
    const leak = doc.suites[1]!.cases[2]!.failures;
    expect(leak).toHaveLength(1);
    expect(leak[0]).toMatchObject({ type: 'leak', message: 'leak at nth=3 (count 1): 1 object, 256 bytes, allocated at kfault_test_alloc+0xe <- leaky' });
    expect(leak[0]!.text).toMatch(/^memory leak in kfault_test_alloc: leak, count 1: harness\.c\(leak\) nth=3\nfault sites: kfault_test_alloc\+0xe\n\nunreferenced object /);
    expect(leak[0]!.text).toContain('comm "kf#3"');
    expect(leak[0]!.text).toContain('leaky+0x11/0x6f [kfault_test]');
    const oops = doc.suites[2]!.cases[1]!;
    expect(oops.failures.map((f) => [f.type, f.message])).toEqual([['oops', 'oops at nth=2 (count 1): BUG: kernel NULL pointer dereference, address: 0000000000000000 at oopsy+0x2b/0x87 [kfault_test]']]);
    expect(oops.failures[0]!.text).toMatch(/\n\nBUG: kernel NULL pointer dereference[\s\S]*Kernel panic - not syncing: Fatal exception$/);
    const warn = doc.suites[3]!.cases.find((c) => c.name === 'WARNING in warny')!.failures;
    expect(warn.map((f) => f.type)).toEqual(['warning']);
    expect(warn[0]!.text).toMatch(/\n\nWARNING: CPU: \d[\s\S]*---\[ end trace [0-9a-f]+ \]---$/);
  });
});

describe('KTAP', () => {
  it('the kernel test format: a subtest per harness, one not ok per distinct problem with the diagnostics', () => {
    const lines = ktap(saved).split('\n');
    expect(lines.slice(0, 7)).toEqual(['KTAP version 1', '# kfault: kernel 6.12.117 (tcg)', '1..5', '    KTAP version 1', '    # Subtest: pipe2', '    1..6', '    ok 1 nth=1 ENFILE alloc_inode+0x35 <- new_inode_pseudo']);
    expect(lines).toContain('    not ok 3 memory leak in kfault_test_alloc # leak at nth=3 (count 1): 1 object, 256 bytes, allocated at kfault_test_alloc+0xe <- leaky');
    expect(lines).toContain('    not ok 2 BUG: kernel NULL pointer dereference in oopsy # oops at nth=2 (count 1): BUG: kernel NULL pointer dereference, address: 0000000000000000 at oopsy+0x2b/0x87 [kfault_test]');
    expect(lines.filter((l) => /^ {4}not ok /.test(l))).toHaveLength(3);
    expect(lines).toContain('ok 1 pipe2');
    expect(lines).toContain('not ok 2 harness.c(leak)');
    expect(lines).toContain('ok 5 harness.c(clean)');
    expect(lines.filter((l) => /^(not )?ok \d+ /.test(l))).toHaveLength(5);
  });
});

describe('merge', () => {
  const shard = (names: string[]) => ({ ...saved, results: saved.results.filter((r) => names.includes(r.harness)) });

  it('joins shards into one run', () => {
    const m = mergeResults([
      { path: 'a.json', file: shard(['pipe2', 'harness.c(leak)']) },
      { path: 'b.json', file: { ...shard(['harness.c(oops)']), restarts: 1 } },
    ]);
    expect(m.results.map((r) => r.harness)).toEqual(['pipe2', 'harness.c(leak)', 'harness.c(oops)']);
    expect(m.restarts).toBe(2);
  });

  it('refuses shards of different kernels, or overlapping ones', () => {
    expect(() => mergeResults([{ path: 'a.json', file: saved }, { path: 'b.json', file: { ...saved, kernel: '6.13.0' } }])).toThrow(
      'b.json: kernel 6.13.0, but a.json has 6.12.117: shards of one run share a kernel',
    );
    expect(() => mergeResults([{ path: 'a.json', file: shard(['pipe2']) }, { path: 'b.json', file: shard(['pipe2']) }])).toThrow(
      'b.json: harness pipe2 is also in a.json; shards must not overlap',
    );
  });
});
