// One build per build directory at a time: two kfault processes (CI shards, a test run and a
// terminal) asking for the same kernel would otherwise run make in the same O= directory at once
// and corrupt it. The second waits for the first, then finds the kernel in the cache.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Locks this process holds: another call in the same process waits for them too. */
const held = new Set<string>();

export async function withBuildLock<T>(dir: string, what: string, fn: () => Promise<T>, pollMs = 2000): Promise<T> {
  const lock = `${dir}.lock`;
  mkdirSync(dirname(lock), { recursive: true });
  let waited = false;
  for (;;) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      held.add(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let pid = 0;
    try {
      pid = Number.parseInt(readFileSync(lock, 'utf8'), 10);
    } catch {
      continue; // removed in between
    }
    if (!pid || (pid === process.pid && !held.has(lock)) || !alive(pid)) {
      rmSync(lock, { force: true }); // left by a process that died
      continue;
    }
    if (!waited) process.stderr.write(`kfault: waiting for process ${pid}, which is running the ${what}\n`);
    waited = true;
    await sleep(pollMs);
  }
  try {
    return await fn();
  } finally {
    held.delete(lock);
    rmSync(lock, { force: true });
  }
}
