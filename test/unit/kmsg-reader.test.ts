// The one /dev/kmsg reader (native/kmsg.c), read through the addon as the agent reads it, on the
// host's own kernel log (reading arms nothing and writes nothing).
import { closeSync, constants, openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadBinding } from '../../src/native.js';

const readable = (() => {
  try {
    closeSync(openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK));
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!readable)('the kernel-log reader (skipped where /dev/kmsg cannot be read: needs root or dmesg_restrict=0)', () => {
  it('from the start: every record, oldest first, its timestamp, and its text without the prefix or a newline', () => {
    const b = loadBinding();
    const fd = b.kmsgOpen(true);
    const records = b.kmsgRead(fd);
    closeSync(fd);
    expect(records.length).toBeGreaterThan(0);
    expect(records[0]!.text).toMatch(/^Linux version /);
    for (const [i, r] of records.entries()) {
      expect(r.text).not.toMatch(/^\d+,\d+,\d+,/);
      expect(r.text).not.toContain('\n');
      if (i) expect(r.usec).toBeGreaterThanOrEqual(records[i - 1]!.usec);
    }
  });

  it('from now: none of what was logged before', () => {
    const b = loadBinding();
    const fd = b.kmsgOpen(false);
    const since = b.kmsgRead(fd);
    closeSync(fd);
    expect(since.filter((r) => /^Linux version /.test(r.text))).toEqual([]);
  });
});
