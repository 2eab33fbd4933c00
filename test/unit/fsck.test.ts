// The fsck verdict (src/fsck.ts) on real e2fsck -fn output (test/fixtures/fsck/README.md says
// where each file came from).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { corruptionText, fsckFindings, fsckSummary, isCorrupted } from '../../src/fsck.js';
import type { FsckCheck } from '../../src/protocol.js';

const saved = (name: string) => readFileSync(new URL(`../fixtures/fsck/${name}`, import.meta.url), 'utf8');

const check = (output: string, status: number, more: Partial<FsckCheck> = {}): FsckCheck => ({
  device: '/dev/vda', fs: 'ext4', ran: true, status, timedOut: false, replayed: false, replayErrno: null, errorState: false,
  repaired: status !== 0, repairStatus: status !== 0 ? 1 : null, ns: 250e6, note: '', output, outputBytes: output.length, kmsg: '', ...more,
});

describe('e2fsck -fn output', () => {
  it('a clean filesystem: no findings, not corrupted', () => {
    expect(fsckFindings(saved('clean.txt'))).toEqual([]);
    expect(isCorrupted(check(saved('clean.txt'), 0))).toBe(false);
  });

  it("the kernel's error flag alone: e2fsck -fn exits 0 and says nothing, so it is not damage", () => {
    const out = saved('error-state-only.txt');
    expect(fsckFindings(out)).toEqual([]);
    expect(isCorrupted(check(out, 0, { errorState: true }))).toBe(false);
  });

  it('a scribbled block bitmap (1 KiB blocks): its findings, without the answers -n gave', () => {
    const out = saved('scribbled-bitmap-1k.txt');
    const found = fsckFindings(out);
    expect(found[0]).toMatch(/^Block bitmap differences: {2}\+1 \+3 \+6 .*\.\.\.$/);
    expect(found[0]!.length).toBe(160);
    expect(found.slice(1)).toEqual([
      'Free blocks count wrong for group #0 (3808, counted=2811).',
      'Free blocks count wrong (56023, counted=55026).',
      'Block bitmap differences: Group 0 block bitmap does not match checksum.',
    ]);
    expect(isCorrupted(check(out, 4))).toBe(true);
    expect(corruptionText(check(out, 4))).toMatch(/^e2fsck -fn \/dev\/vda: exit 4: Block bitmap differences: /);
  });

  it('a finding with its answer on the same line keeps the finding (4 KiB blocks)', () => {
    expect(fsckFindings(saved('scribbled-bitmap-4k.txt'))).toContain('Padding at end of block bitmap is not set.');
  });

  it('a superblock that is not one: exit 8, and that is damage; exit 8 for another reason is not', () => {
    const out = saved('bad-superblock.txt');
    expect(isCorrupted(check(out, 8))).toBe(true);
    expect(fsckFindings(out)[0]).toBe('ext2fs_open2: Bad magic number in super-block');
    expect(isCorrupted(check('e2fsck: Device or resource busy while trying to open /dev/vda\n', 8))).toBe(false);
  });

  it('a check that did not run is not corrupted', () => {
    expect(isCorrupted(check('', -1, { ran: false, timedOut: true, note: 'e2fsck -fn did not finish within 60 s: killed' }))).toBe(false);
  });

  it('long output is cut to a dozen lines', () => {
    const many = Array.from({ length: 30 }, (_, i) => `Inode ${i + 12} has a bad extent.`).join('\n');
    const found = fsckFindings(many);
    expect(found).toHaveLength(13);
    expect(found[12]).toBe('(18 more lines)');
  });

  it('the summary line counts the checks', () => {
    const steps = [{ fsck: [check(saved('clean.txt'), 0)] }, { fsck: [check(saved('scribbled-bitmap-1k.txt'), 4, { replayed: true })] }, { fsck: null }];
    expect(fsckSummary(steps)).toBe('fsck: e2fsck -fn after 2 steps: 1 clean, 1 corrupted; journal replayed by the kernel before 1; repaired with e2fsck -fy after 1; 250 ms per check');
    expect(fsckSummary([{ fsck: null }, {}])).toBeNull();
  });
});
