// ext4 on the scratch disk, with e2fsck as a verdict after every step that injected: a whole
// sweep of ext4-rename (twice: the same steps both times, and no `corrupted`), and the positive
// control, a harness that writes garbage over the block bitmap through the raw device, which
// e2fsck must catch at its steps. One guest, on the block kernel, for all of it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boot, parseConfig, type Guest } from '../../src/index.js';
import { ensureKernel } from '../../src/kernel/build.js';
import { compileHarness } from '../../src/harness/compile.js';
import { isCorrupted } from '../../src/fsck.js';
import { problems } from '../../src/report.js';
import { groupProblems } from '../../src/reports/groups.js';
import type { SweepResult } from '../../src/protocol.js';

const scribble = new URL('../fixtures/harnesses/scribble-ext4.c', import.meta.url).pathname;
const config = parseConfig({ kernel: { profiles: ['block'] }, machine: { disks: ['64M:ext4'] }, sweep: { maxSteps: 400 } });

let guest: Guest;
const stepsOf = (r: SweepResult) => r.steps.map((s) => [s.nth, s.errno, s.fault?.callSite ?? null]);

beforeAll(async () => {
  const kernel = await ensureKernel(config);
  guest = await boot(config, { kernel });
}, 600_000);

afterAll(async () => {
  await guest?.close();
}, 60_000);

describe('ext4 harnesses with fsck after every step', () => {
  let first: SweepResult;

  it('ext4-rename: a complete sweep, e2fsck -fn clean after every step that injected', async () => {
    first = await guest.sweep('ext4-rename');
    expect(first.complete).toBe(true);
    const injected = first.steps.filter((s) => s.injected);
    expect(injected.length).toBeGreaterThan(3);
    for (const s of injected) {
      expect(s.fsck, `nth=${s.nth}`).toHaveLength(1);
      expect(s.fsck![0]).toMatchObject({ fs: 'ext4', ran: true, status: 0, timedOut: false, note: '' });
      expect(s.fsck![0]!.output).toMatch(/Pass 5: Checking group summary information/);
    }
    // the last step injected nothing: no fault could have damaged anything, it is not checked
    expect(first.steps.at(-1)!.fsck ?? null).toBeNull();
    expect(problems(first)).toEqual([]);
  }, 300_000);

  it('ext4-rename again: the same steps, nth by nth (every step starts from a disk just checked and mounted again)', async () => {
    const again = await guest.sweep('ext4-rename');
    expect(stepsOf(again)).toEqual(stepsOf(first));
  }, 300_000);

  it('the positive control: garbage over the block bitmap is `corrupted`, in e2fsck\'s words, at its step', async () => {
    const r = await guest.sweep({ name: 'scribble-ext4.c', library: compileHarness(scribble), arg: '' });
    const corrupted = problems(r).filter((p) => p.kind === 'corrupted');
    expect(corrupted.length).toBeGreaterThan(0);
    for (const p of corrupted) {
      const s = r.steps.find((x) => x.nth === p.nth)!;
      expect(s.injected).toBe(true);
      expect(p.text).toMatch(/^e2fsck -fn \/dev\/vd[a-z]: exit 4: Block bitmap differences: /);
      const c = s.fsck![0]!;
      expect(isCorrupted(c)).toBe(true);
      expect(c.output).toMatch(/block bitmap does not match checksum/);
      expect(c.repaired).toBe(true); // so the next step starts from a clean disk
    }
    const groups = groupProblems(r).filter((g) => g.kind === 'corrupted');
    expect(groups.length).toBeGreaterThan(0);
    expect(groups[0]!.title).toMatch(/^corrupted ext4 after a fault in \w+/);
  }, 300_000);

  it('after the positive control was repaired, ext4-write sweeps clean', async () => {
    const r = await guest.sweep('ext4-write');
    expect(r.complete).toBe(true);
    expect(r.steps.filter((s) => s.injected).every((s) => s.fsck?.[0]?.status === 0)).toBe(true);
    expect(problems(r).filter((p) => p.kind === 'corrupted')).toEqual([]);
  }, 600_000);
});
