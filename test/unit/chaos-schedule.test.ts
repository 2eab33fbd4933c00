// The chaos bench's schedule (bench/chaos.mjs): the same seed gives the same kills, every phase
// is hit as often as the others, and each kill comes within its phase's span.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs of the bench, without types
import { PHASES, schedule, SIGNALS } from '../../bench/chaos.mjs';

type Kill = { phase: string; signal: string; afterMs: number };

describe('chaos schedule', () => {
  it('is seeded: same seed, same kills; another seed, others', () => {
    expect(schedule(20, 7)).toEqual(schedule(20, 7));
    expect(schedule(20, 7)).not.toEqual(schedule(20, 8));
  });

  it('20 runs: each of the 5 phases 4 times, signals from SIGINT, SIGTERM, SIGKILL, delays >= 0', () => {
    const kills = schedule(20, 12345) as Kill[];
    for (const p of PHASES as string[]) expect(kills.filter((k) => k.phase === p).length, p).toBe(4);
    expect(kills.every((k) => (SIGNALS as string[]).includes(k.signal) && k.afterMs >= 0 && Number.isInteger(k.afterMs))).toBe(true);
    expect(new Set(kills.map((k) => k.signal)).size).toBe(3);
  });
});
