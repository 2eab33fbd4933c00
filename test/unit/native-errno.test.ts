// errno is saved where the call failed (native/sweep.c, native/guest.c): a focused native test
// (test/native/errno.c) links the C files with --wrap'ed open/read/pread/pwrite, so the failures
// are made on the host with nothing armed: fail-nth is /dev/null, /dev/kmsg an empty pipe.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
mkdirSync(join(root, 'build'), { recursive: true });
const dir = mkdtempSync(join(root, 'build', 'errno-test-')); // not /tmp: it may be noexec
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(): Record<string, string> {
  const exe = join(dir, 'errno');
  const cc = spawnSync('gcc', ['-D_GNU_SOURCE', '-std=gnu11', '-O0', '-U_FORTIFY_SOURCE', '-Wall', '-o', exe, 'test/native/errno.c', 'native/sweep.c', 'native/kmsg.c', 'native/guest.c', 'native/fsck.c', '-lpthread', '-Wl,--wrap=open,--wrap=read,--wrap=pread,--wrap=pwrite'], { cwd: root, encoding: 'utf8' });
  expect(cc.status, cc.stderr).toBe(0);
  const r = spawnSync(exe, { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.split(' ')[0]!, l.split(' ').slice(1).join(' ')]));
}

describe('errno of the call that failed', () => {
  const out = run();

  it('sweep: a failed read of fail-nth reports its own errno, not what write_nth, release or drain_kmsg left', () => {
    expect(out['read-fail-nth']).toBe('-1 EIO read');
  });

  it('sweep: a short write of fail-nth reports EIO, not a stale errno', () => {
    expect(out['write-fail-nth']).toBe('-1 EIO write');
  });

  it('guest check: a failed read of /proc/cmdline is named read, with its errno', () => {
    expect(out['read-cmdline']).toBe('0 EIO read');
  });
});
