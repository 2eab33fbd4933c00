// kmemleakClear() remembers the leaks reported so far instead of kmemleak's `clear` (which makes
// them grey, scanned for ever); later checks leave the remembered ones out, records and raw text.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { withoutKnownLeaks } from '../../src/guest/guest.js';
import { parseKmemleakReport } from '../../src/kmsg/kmemleak-report.js';

const real = (name: string) => readFileSync(new URL(`../fixtures/kmemleak/${name}`, import.meta.url), 'utf8');
// two saved real reports, one record each (6.12.117 on the host, 6.12.118 in the CI image), as
// one report holding both
const old = real('report-6.12.117-module-leak.txt');
const fresh = real('report-6.12.118-module-leak.txt');
const both = old + fresh;
const state = { enabled: true, why: null, leaks: parseKmemleakReport(both), raw: both };
const key = (raw: string) => {
  const l = parseKmemleakReport(raw)[0]!;
  return `${l.address} ${l.jiffies}`;
};

describe('withoutKnownLeaks', () => {
  it('leaves out a known leak from the records and the raw text, and keeps the new one', () => {
    expect(state.leaks).toHaveLength(2);
    const r = withoutKnownLeaks(state, new Set([key(old)]));
    expect(r.leaks.map((l) => l.address)).toEqual(parseKmemleakReport(fresh).map((l) => l.address));
    expect(r.raw).toBe(fresh);
  });
  it('knows a leak by address and allocation time: a reused address is a new leak', () => {
    const l = parseKmemleakReport(fresh)[0]!;
    const r = withoutKnownLeaks(state, new Set([`${l.address} ${l.jiffies - 1}`]));
    expect(r.leaks).toHaveLength(2);
    expect(r.raw).toBe(both);
  });
});
