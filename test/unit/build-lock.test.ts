// Two builds of one kernel never run make in the same directory at once.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withBuildLock } from '../../src/kernel/build-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'kfault-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('build lock', () => {
  it('a second build of the same directory waits for the first', async () => {
    const events: string[] = [];
    const build = (name: string) =>
      withBuildLock(join(dir, 'same'), 'test build', async () => {
        events.push(`${name} start`);
        await tick(50);
        events.push(`${name} end`);
      }, 10);
    await Promise.all([build('a'), build('b')]);
    expect(events).toEqual(['a start', 'a end', 'b start', 'b end']);
    expect(existsSync(join(dir, 'same.lock'))).toBe(false);
  });

  it('a lock left by a process that died is taken over', async () => {
    const dead = spawnSync('true').pid!; // exited: its pid is not running now
    writeFileSync(join(dir, 'stale.lock'), `${dead}\n`);
    expect(await withBuildLock(join(dir, 'stale'), 'test build', async () => 'built', 10)).toBe('built');
  });

  it('the lock is released when the build fails', async () => {
    await expect(withBuildLock(join(dir, 'fails'), 'test build', () => Promise.reject(new Error('make failed')), 10)).rejects.toThrow('make failed');
    expect(existsSync(join(dir, 'fails.lock'))).toBe(false);
  });
});
