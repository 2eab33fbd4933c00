// kfault parse on saved REAL logs (stock 6.12.117 guests under TCG): a sweep's console log with a
// WARNING and a panic mid-test, a clean boot, a log cut off inside an oops, a KASAN report, a
// kmemleak report, and a dmesg and /dev/kmsg dump of the same guest.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ParsedLog, parseLog } from '../../src/kmsg/parse-log.js';

const fixture = (path: string) => new URL(`../fixtures/${path}`, import.meta.url).pathname;
const parsed = (path: string) => parseLog(readFileSync(fixture(path), 'utf8'), path);
const bin = new URL('../../bin/kfault.js', import.meta.url).pathname;
const kfault = (args: string[], input?: string) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', input });

describe('kfault parse: a sweep console log with a panic mid-test', () => {
  // kfault sweep harness.c:warn harness.c:oops harness.c:leak --module test/fixtures/kfault-test-module:
  // the oops panicked the guest (oops=panic), whose panic printed the whole kernel log again
  // (panic_print=32); a second guest swept warn again for kmemleak
  const p = parsed('console/sweep-warn-oops-leak.log');

  it('finds the oops, tied to its step, its fault and the panic it ended in', () => {
    const oops = p.problems.filter((x) => x.kind === 'oops');
    expect(oops).toHaveLength(1); // its replay after the panic is the same record, counted once
    expect(oops[0]).toMatchObject({
      headline: 'BUG: kernel NULL pointer dereference, address: 0000000000000000',
      at: 'oopsy+0x2b/0x87 [kfault_test]',
      pid: 62,
      comm: 'kf#2',
      step: 2,
      panic: 'Kernel panic - not syncing: Fatal exception',
      truncated: false,
    });
    expect(oops[0]!.fault).toMatchObject({ injector: 'failslab', callSite: 'kfault_test_alloc+0xe', caller: 'oopsy' });
    expect(oops[0]!.log).toContain(' kfault_test_ioctl+0x29/0x48 [kfault_test]');
    expect(oops[0]!.log.at(-1)).toBe('Kernel Offset: disabled');
  });

  it('finds both WARNINGs (one per guest), the first with its whole report from the replay', () => {
    const warnings = p.problems.filter((x) => x.kind === 'warning');
    expect(warnings.map((w) => [w.pid, w.at])).toEqual([
      [61, 'warny+0x53/0x82 [kfault_test]'],
      [65, 'warny+0x53/0x82 [kfault_test]'],
    ]);
    // the console showed 2 lines of the first (the rest was below its loglevel); the replay has all
    expect(warnings[0]!.log).toContain('RIP: 0010:warny+0x53/0x82 [kfault_test]');
    expect(warnings[0]).toMatchObject({ comm: 'kf#2', step: 2 });
    expect(warnings[0]!.fault?.caller).toBe('warny');
    expect(warnings[1]!.log).toHaveLength(2);
  });

  it('lists each fault-injection trace once, console copy and replay merged', () => {
    expect(p.faults.map((f) => [f.pid, f.comm, f.site.caller])).toEqual([
      [62, 'kf#2', 'oopsy'],
      [61, 'kf#1', 'warny'],
      [61, 'kf#2', 'warny'],
      [61, 'kf#3', 'warny'],
      [62, 'kf#1', 'oopsy'],
    ]);
    expect(p.faults.every((f) => f.announced && f.site.injector === 'failslab' && f.site.callSite === 'kfault_test_alloc+0xe')).toBe(true);
    expect(p.formats).toEqual(['dmesg', 'plain']);
  });

  it('kfault parse --json prints it, valid against its schema, exit 1 (problems)', () => {
    const r = kfault(['parse', fixture('console/sweep-warn-oops-leak.log'), '--json']);
    expect(r.status).toBe(1);
    const j = ParsedLog.parse(JSON.parse(r.stdout));
    expect(j.problems.map((x) => x.kind)).toEqual(['warning', 'oops', 'warning']);
  });

  it('kfault parse prints each report and trace', () => {
    const r = kfault(['parse', fixture('console/sweep-warn-oops-leak.log')]);
    expect(r.stdout).toMatch(/^.*: 586 lines \(dmesg, plain\): 3 problems \(2 warning, 1 oops\), 5 fault-injection traces, 0 kmemleak records$/m);
    expect(r.stdout).toContain('oops (line 40, pid 62 kf#2 (kfault step nth=2)): BUG: kernel NULL pointer dereference, address: 0000000000000000\n  at oopsy+0x2b/0x87 [kfault_test]\n  injected fault before it: failslab at kfault_test_alloc+0xe <- oopsy\n  then: Kernel panic - not syncing: Fatal exception\n');
  });
});

describe('kfault parse: other real logs', () => {
  it('a clean boot: nothing found, exit 0', () => {
    const p = parsed('console/clean.log');
    expect([p.problems, p.faults, p.leaks]).toEqual([[], [], []]);
    const r = kfault(['parse', fixture('console/clean.log')]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/: 8 lines \(dmesg, plain\): 0 problems, 0 fault-injection traces, 0 kmemleak records\n$/);
  });

  it('a log cut off inside an oops: the headline, marked truncated', () => {
    const p = parsed('console/oops-truncated.log');
    expect(p.problems).toHaveLength(1);
    expect(p.problems[0]).toMatchObject({ kind: 'oops', headline: 'BUG: kernel NULL pointer dereference, address: 0000000000000000', truncated: true, at: null });
    // the fault's stack dump came before the cut; its "forcing a failure" line was below the console's loglevel
    expect(p.faults).toHaveLength(1);
    expect(p.faults[0]).toMatchObject({ comm: 'kf#2', announced: false, site: { injector: 'failslab', caller: 'oopsy' } });
  });

  it('a KASAN report (kernel log of one step, no timestamps)', () => {
    const p = parsed('kmsg/kasan-uaf-nth2.txt');
    expect(p.problems.map((x) => [x.kind, x.at, x.step])).toEqual([['kasan', 'uafy+0x5c/0xa7 [kfault_test]', 2]]);
    expect(p.problems[0]!.headline).toBe('BUG: KASAN: slab-use-after-free in uafy+0x5c/0xa7 [kfault_test]');
    expect(p.problems[0]!.log.at(-1)).toMatch(/^={20,}$/);
    expect(p.faults[0]?.site.caller).toBe('uafy');
  });

  it('a kmemleak report: its record, exit 1', () => {
    const p = parsed('kmemleak/report-6.12.117-module-leak.txt');
    expect(p.leaks).toHaveLength(1);
    expect(p.leaks[0]).toMatchObject({ size: 256, comm: 'kf#3', pid: 62 });
    const r = kfault(['parse', '-'], readFileSync(fixture('kmemleak/report-6.12.117-module-leak.txt'), 'utf8'));
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('kmemleak: unreferenced object 0xffff888003fb5e00 (256 bytes), comm "kf#3" pid 62 (kfault step nth=3), allocated at kfault_test_alloc+0xe/0x10 [kfault_test] <- leaky+0x11/0x6f [kfault_test]');
  });
});

describe('kfault parse: dmesg and /dev/kmsg of the same guest', () => {
  // captured in a kfault guest by test/fixtures/dmesg/capture-warn.py (see its header): the test
  // module's warn ioctl with fail-nth=3 (its second allocation; 2 was kmemleak's), then the kernel
  // log as dmesg prints it and as /dev/kmsg gives it ("5,238,21042282,-;FAULT_INJECTION: ...\x0aname ...")
  const dmesg = parsed('dmesg/warn-6.12.117.dmesg');
  const kmsg = parsed('dmesg/warn-6.12.117.kmsg');

  it('finds the WARNING and both traced faults in each', () => {
    for (const p of [dmesg, kmsg]) {
      expect(p.problems.map((x) => [x.kind, x.at, x.pid, x.comm, x.fault?.caller])).toEqual([['warning', 'warny+0x53/0x82 [kfault_test]', 63, 'python3', 'warny']]);
      expect(p.faults.map((f) => [f.site.injector, f.site.callSite, f.announced])).toEqual([
        ['failslab', 'kfault_test_alloc+0xe', true],
        ['failslab', 'kfault_test_alloc+0xe', true],
      ]);
      // the first and the second of warny's allocations
      expect(p.faults.map((f) => f.site.frames[f.site.frames.indexOf(f.site.callSite!) + 1])).toEqual(['warny+0x11', 'warny+0x23']);
    }
    expect(dmesg.formats).toEqual(['dmesg', 'plain']);
    expect(kmsg.formats).toEqual(['kmsg']);
  });

  it('reads the same records from both formats', () => {
    const same = (p: typeof dmesg) => ({ problems: p.problems.map(({ line: _, ...x }) => x), faults: p.faults.map(({ line: _, ...x }) => x), kmemleak: p.kmemleak });
    expect(same(kmsg)).toEqual(same(dmesg));
  });
});

describe('kfault parse: bad input', () => {
  it('a file that is no kernel log: exit 2, saying what was expected', () => {
    const r = kfault(['parse', new URL('../../package.json', import.meta.url).pathname]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/package\.json does not look like a kernel log: no line has a dmesg timestamp .*; expected: kfault parse FILE\|- \[--json\]/);
  });

  it('no such file, or no file: exit 2', () => {
    expect(kfault(['parse', 'no-such.log'])).toMatchObject({ status: 2, stderr: expect.stringContaining('kfault parse: no-such.log: no such file;') });
    expect(kfault(['parse'])).toMatchObject({ status: 2, stderr: expect.stringContaining('kfault parse: no file; expected: kfault parse FILE|-') });
  });
});
