// Two builds of one kernel never run make in the same directory at once: a flock(2) on
// <dir>.lock, taken atomically and dropped by the kernel when its holder dies.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { withBuildLock } from '../../src/kernel/build-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'kfault-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lockModule = new URL('../../dist/kernel/build-lock.js', import.meta.url).href;

/** Another process: takes the lock on target, writes "in"/"out" lines to log, holding it ms. */
function holder(target: string, log: string, ms: number, note = '') {
  const code = `import { withBuildLock } from '${lockModule}';
import { appendFileSync, writeFileSync } from 'node:fs';
await withBuildLock(${JSON.stringify(target)}, 'test build', async () => {
  appendFileSync(${JSON.stringify(log)}, 'in ' + process.pid + '\\n');
  ${note ? `writeFileSync(${JSON.stringify(target + '.lock')}, ${JSON.stringify(note)});` : ''}
  await new Promise((r) => setTimeout(r, ${ms}));
  appendFileSync(${JSON.stringify(log)}, 'out ' + process.pid + '\\n');
}, 20);`;
  return spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'ignore', 'pipe'] });
}
// the child may be gone already (it exits right after releasing the lock): then 'exit' was emitted
const exited = (c: ReturnType<typeof spawn>) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
const waitFor = async (f: string, text: string) => {
  for (let i = 0; i < 3000; i++) {
    if (existsSync(f) && readFileSync(f, 'utf8').includes(text)) return;
    await tick(10);
  }
  throw new Error(`no '${text}' in ${f} after 30 s: the holder process did not take the lock`);
};

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
  });

  it('four processes at once: never two inside (no waiter removes a lock another just took)', async () => {
    const log = join(dir, 'four.log');
    const kids = [0, 1, 2, 3].map(() => holder(join(dir, 'four'), log, 100));
    await Promise.all(kids.map(exited));
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(8);
    for (let i = 0; i < 8; i += 2) expect([lines[i]!.split(' ')[0], lines[i + 1]!.split(' ')[0], lines[i]!.split(' ')[1]]).toEqual(['in', 'out', lines[i + 1]!.split(' ')[1]]);
  }, 60_000);

  it('a lock whose holder was killed (SIGKILL) is free at once; a stale note in the file does not matter', async () => {
    const log = join(dir, 'killed.log');
    const kid = holder(join(dir, 'killed'), log, 60_000);
    await waitFor(log, 'in ');
    kid.kill('SIGKILL');
    await exited(kid);
    const t0 = Date.now();
    expect(await withBuildLock(join(dir, 'killed'), 'test build', async () => 'built', 10)).toBe('built');
    expect(Date.now() - t0).toBeLessThan(1000);
    const dead = spawnSync('true').pid!;
    writeFileSync(join(dir, 'stale.lock'), `pid ${dead} on nowhere\n`);
    expect(await withBuildLock(join(dir, 'stale'), 'test build', async () => 'built', 10)).toBe('built');
  }, 60_000);

  it('a live holder whose note names our own pid (another PID namespace) is waited for', async () => {
    const log = join(dir, 'samepid.log');
    const kid = holder(join(dir, 'samepid'), log, 400, `${process.pid}\n`);
    await waitFor(log, 'in ');
    await withBuildLock(join(dir, 'samepid'), 'test build', async () => appendFileSync(log, 'us\n'), 10);
    await exited(kid);
    expect(readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' ')[0])).toEqual(['in', 'out', 'us']);
  }, 60_000);

  it('the lock is released when the build fails', async () => {
    await expect(withBuildLock(join(dir, 'fails'), 'test build', () => Promise.reject(new Error('make failed')), 10)).rejects.toThrow('make failed');
    expect(await withBuildLock(join(dir, 'fails'), 'test build', async () => 'again', 10)).toBe('again');
  });
});
