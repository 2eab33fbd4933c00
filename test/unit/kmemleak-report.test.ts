// report-6.12.117-module-leak*.txt are real reports saved from the positive-control module on
// 6.12.117. made-up-*.txt are MADE UP by hand (two leaks in one report, a report cut mid-record):
// they test the parser's handling of those shapes only, and 6.12 does not print their exact
// frame format.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseKmemleakReport } from '../../src/kmsg/kmemleak-report.js';

const fixture = (f: string) => readFileSync(new URL(`../fixtures/kmemleak/${f}`, import.meta.url), 'utf8');

describe('kmemleak report', () => {
  it('parses every leak with its fields', () => {
    const leaks = parseKmemleakReport(fixture('made-up-report-two-leaks.txt'));
    expect(leaks).toHaveLength(2);
    expect(leaks[0]).toEqual({
      address: '0xffff888003a1c000',
      size: 64,
      comm: 'node',
      pid: 55,
      jiffies: 4294892345,
      crc: '5a1b2c3d',
      hexDump: ['6b 66 61 75 6c 74 00 00 00 00 00 00 00 00 00 00  kfault..........', '00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................'],
      frames: ['kmemleak_alloc+0x4e/0x80', '__kmalloc_cache_noprof+0xf/0x11', 'alloc_pipe_info+0x66/0x1a0', 'create_pipe_files+0x46/0x1ad'],
    });
    expect(leaks[1]).toMatchObject({ size: 192, comm: 'kworker/0:1', pid: 12, crc: '0', frames: ['kmemleak_alloc+0x4e/0x80'] });
  });

  it('keeps what a truncated report has', () => {
    const leaks = parseKmemleakReport(fixture('made-up-report-truncated.txt'));
    expect(leaks).toHaveLength(1);
    expect(leaks[0]).toMatchObject({ address: '0xffff888003a1c000', size: 64, comm: 'node' });
  });

  it('an empty report is no leaks', () => {
    expect(parseKmemleakReport('')).toEqual([]);
  });
});
