// One build per build directory at a time: two kfault processes (CI shards, a test run and a
// terminal, two containers sharing a cache) asking for the same kernel would otherwise run make
// in the same O= directory at once and corrupt it. The second waits for the first, then finds
// the kernel in the cache. The lock is a flock(2) on `<dir>.lock` (native/lock.c): taking it is
// atomic, the kernel drops it when its holder dies however it dies, and it holds across PID
// namespaces. The file stays: removing it would let a waiter lock a file nobody else opens.
import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadBinding } from '../native.js';

export async function withBuildLock<T>(dir: string, what: string, fn: () => Promise<T>, pollMs = 2000): Promise<T> {
  const lock = `${dir}.lock`;
  mkdirSync(dirname(lock), { recursive: true });
  const binding = loadBinding();
  const holder = `pid ${process.pid} on ${hostname()}, since ${new Date().toISOString()}\n`;
  let waited = false;
  let fd: number | null;
  while ((fd = binding.lockTry(lock, holder)) === null) {
    if (!waited) {
      let who = 'another kfault';
      try {
        who = `${readFileSync(lock, 'utf8').trim() || 'another kfault'}`;
      } catch {
        // the note is only for this message
      }
      process.stderr.write(`kfault: waiting for ${who}, which is running the ${what} (lock: ${lock})\n`);
    }
    waited = true;
    await sleep(pollMs);
  }
  try {
    return await fn();
  } finally {
    binding.lockRelease(fd);
  }
}
