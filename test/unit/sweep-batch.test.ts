// The batch logic of src/sweep-batch.ts on a scripted guest (the real guest's crash recovery is
// tested in test/integration/positive-controls.test.ts): kmemleak's state dies with every
// crash, pids restart with every boot, and a leak is only found in the guest it was made in.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import type { Guest, SweepCall, SweepManyCall } from '../../src/guest/guest.js';
import type { Leak } from '../../src/kmsg/kmemleak-report.js';
import type { Crash, Step, SweepResult } from '../../src/protocol.js';
import { sweepBatch, type SweepTarget } from '../../src/sweep-batch.js';

const root = new URL('../..', import.meta.url).pathname;
let cache: string;
const savedCache = process.env.XDG_CACHE_HOME;
beforeAll(() => {
  mkdirSync(join(root, 'build'), { recursive: true });
  cache = mkdtempSync(join(root, 'build', 'batch-test-')); // step estimates are written here
  process.env.XDG_CACHE_HOME = cache;
});
afterAll(() => {
  if (savedCache === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = savedCache;
  rmSync(cache, { recursive: true, force: true });
});

/** Which nths crash the guest in the k-th sweep of a harness (0: its first sweep). */
type Script = Record<string, Array<number[]>>;

/** Three steps per harness (crashy: six); 'leaky' leaks at nth=3. A crash reboots: kmemleak forgets, pids restart. */
class ScriptedGuest {
  restarts = 0;
  readonly kernel = 'scripted';
  readonly accel = 'tcg';
  readonly calls: Array<{ harness: string; skip: number[] }> = [];
  private made: Leak[] = [];
  private nextPid = 100;
  private swept: Record<string, number> = {};
  constructor(private readonly script: Script) {}

  async kmemleakClear() {
    this.made = [];
    return { enabled: true, why: null, leaks: [], raw: '' };
  }

  async kmemleakCheck() {
    return { enabled: true, why: null, leaks: [...this.made], raw: '' };
  }

  async sweep(harness: string, o: SweepCall = {}): Promise<SweepResult> {
    const k = (this.swept[harness] = (this.swept[harness] ?? -1) + 1);
    const crashAt = this.script[harness]?.[k] ?? [];
    const skip = o.skip ?? [];
    this.calls.push({ harness, skip });
    const steps: Step[] = [];
    const crashes: Crash[] = [];
    let tid = this.nextPid++;
    for (let nth = 1; nth <= (harness === 'crashy' ? 6 : 3); nth++) {
      if (skip.includes(nth)) continue;
      if (crashAt.includes(nth)) {
        crashes.push({ nth, kind: 'oops', headline: `BUG in ${harness}`, at: null, log: [], consoleLog: '', fault: null });
        this.restarts++;
        this.made = [];
        this.nextPid = 100;
        tid = this.nextPid++;
        continue;
      }
      steps.push({ nth, ret: -12, errno: 'ENOMEM', injected: true, tid, signal: null, ns: 1, kmsg: '', fault: null, trace: '' });
      o.onStep?.(steps.at(-1)!);
      if (harness === 'leaky' && nth === 3) this.made.push(leakOf(tid, nth));
    }
    return {
      harness, library: null, arg: null, syscall: 'ioctl', summary: '', maxSteps: 100, mode: 'systematic', complete: true, ms: 1, refillFilter: '', setup: null,
      steps, leaks: [], crashes, kmemleakFilter: { kmemleakOn: true, kernelKeepsOut: false, applied: true, note: '' },
    };
  }

  /** As Guest.sweepMany: one sweep after the other, each begun and ended in turn. */
  async sweepMany(harnesses: string[], o: SweepManyCall = {}): Promise<SweepResult[]> {
    const { onStep, onBegin, onEnd, ...rest } = o;
    const out: SweepResult[] = [];
    for (const [i, h] of harnesses.entries()) {
      onBegin?.(i);
      const r = await this.sweep(h, { ...rest, onStep: (s) => onStep?.(i, s) });
      onEnd?.(i, r);
      out.push(r);
    }
    return out;
  }
}

const leakOf = (pid: number, nth: number): Leak => ({
  address: `0xffff8880${pid}`, size: 256, comm: `kf#${nth}`, pid, jiffies: 1, crc: null, hexDump: [], frames: ['__kmalloc_noprof+0x34/0x36', 'leaky_alloc+0xe/0x10 [m]'],
});

const config = parseConfig({});
const targets = (...names: string[]): SweepTarget[] => names.map((name) => ({ name }));
const batch = (g: ScriptedGuest, names: string[], call: SweepCall = {}) => sweepBatch({ guest: g as unknown as Guest, modules: [] }, config, targets(...names), { sweep: call });

describe('a batch of sweeps and kmemleak', () => {
  it('no crash: each harness swept once, its leak tied to its step', async () => {
    const g = new ScriptedGuest({});
    const b = await batch(g, ['leaky', 'other']);
    expect(g.calls.map((c) => c.harness)).toEqual(['leaky', 'other']);
    expect(b.results[0]!.leaks.map((l) => l.nth)).toEqual([3]);
    expect(b.kmemleak).toMatchObject({ enabled: true, unattributed: [] });
    expect(b.restarts).toBe(0);
  });

  it("a crash takes kmemleak's state: what ran before it is swept again in the new guest", async () => {
    const g = new ScriptedGuest({ crashy: [[2]] });
    const b = await batch(g, ['leaky', 'crashy']);
    expect(g.calls).toEqual([{ harness: 'leaky', skip: [] }, { harness: 'crashy', skip: [] }, { harness: 'leaky', skip: [] }, { harness: 'crashy', skip: [2] }]);
    expect(b.results[0]!.leaks.map((l) => l.nth)).toEqual([3]);
    expect(b.results[1]!.crashes.map((c) => c.nth)).toEqual([2]);
  });

  it('a sweep again that crashes at a new step: everything is swept again until one guest ran it all, and both crashes are kept', async () => {
    // the sweep again of crashy crashes at nth=1 after leaky's sweep again: leaky's leak died
    // with that guest, and only a third guest can find it
    const g = new ScriptedGuest({ crashy: [[2], [1]] });
    const b = await batch(g, ['leaky', 'crashy']);
    expect(g.calls).toEqual([
      { harness: 'leaky', skip: [] }, { harness: 'crashy', skip: [] },
      { harness: 'leaky', skip: [] }, { harness: 'crashy', skip: [2] },
      { harness: 'leaky', skip: [] }, { harness: 'crashy', skip: [2, 1] },
    ]);
    expect(b.results[0]!.leaks.map((l) => l.nth)).toEqual([3]);
    expect(b.results[1]!.crashes.map((c) => c.nth)).toEqual([1, 2]);
    expect(b.kmemleak).toMatchObject({ enabled: true });
    expect(b.restarts).toBe(2);
  });

  it('a crash that comes back in every sweep again: kfault says the leaks were not checked, never "no leaks"', async () => {
    const g = new ScriptedGuest({ crashy: [[1], [2], [3], [4]] });
    const b = await batch(g, ['leaky', 'crashy']);
    expect(b.kmemleak?.enabled).toBe(false);
    expect(b.kmemleak?.why).toBe("the guest crashed again in each of 3 sweeps of leaky, crashy for kmemleak, each crash taking kmemleak's state of them");
  });

  it("the caller's skip is kept in the sweep again, with the crashes", async () => {
    const g = new ScriptedGuest({ crashy: [[2]] });
    await batch(g, ['crashy'], { skip: [3] });
    expect(g.calls).toEqual([{ harness: 'crashy', skip: [3] }, { harness: 'crashy', skip: [3, 2] }]);
  });

  it("a batch sees only its own leaks: kmemleak is cleared first (a second sweep on the same guest does not report the first one's)", async () => {
    const g = new ScriptedGuest({});
    await batch(g, ['leaky']);
    const second = await batch(g, ['other']);
    expect(second.kmemleak?.unattributed).toEqual([]);
  });

  it('steps are reported once, from the first sweep: a sweep again is kfault\'s own', async () => {
    const g = new ScriptedGuest({ crashy: [[2]] });
    const seen: number[] = [];
    await batch(g, ['crashy'], { onStep: (s) => seen.push(s.nth) });
    expect(seen).toEqual([1, 3, 4, 5, 6]); // nth=2 crashed; the sweep again after it reported nothing
  });
});
