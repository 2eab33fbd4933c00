// Small reads of kernel state in the guest.
import { closeSync, readFileSync, writeFileSync } from 'node:fs';
import { parseKmemleakReport, type Leak } from '../kmsg/kmemleak-report.js';
import { loadBinding } from '../native.js';

const KMEMLEAK = '/sys/kernel/debug/kmemleak';

const KMEMLEAK_SAYS = /kmemleak|memory leak detector|Memory pool empty/i;

function write(cmd: string): string | null {
  try {
    writeFileSync(KMEMLEAK, cmd);
    return null;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return err.code === 'ENOENT' ? 'no kmemleak in this kernel (CONFIG_DEBUG_KMEMLEAK) or debugfs not mounted' : `${cmd}: ${err.code ?? err.message}`;
  }
}

/**
 * start: stop the automatic scan thread and forget what is unreferenced now.
 * clear: forget what is unreferenced now.
 * scan: one scan, without task stacks: a stack keeps stale pointers of returned calls (an error
 *   path's locals stay below the stack pointer), so a leaked object stays "referenced".
 * report: read what the scans found.
 * Once kmemleak has disabled itself every command fails (EPERM or EBUSY): enabled is false,
 * with the reason and kmemleak's own last words in the kernel log.
 */
export function kmemleakCommand(action: 'start' | 'clear' | 'scan' | 'report'): { enabled: boolean; why: string | null; leaks: Leak[]; raw?: string } {
  const log = openKmsg();
  try {
    return kmemleakDo(action, log);
  } finally {
    log(); // closes /dev/kmsg on every path (after the first call, it reads and closes nothing)
  }
}

function kmemleakDo(action: 'start' | 'clear' | 'scan' | 'report', log: () => string[]): { enabled: boolean; why: string | null; leaks: Leak[]; raw?: string } {
  const cmds = { start: ['scan=off', 'clear'], clear: ['clear'], scan: ['stack=off', 'scan'], report: [] }[action];
  let failed: string | null = null;
  for (const c of cmds) failed ??= write(c);
  if (!failed && action === 'report') {
    try {
      const raw = readFileSync(KMEMLEAK, 'utf8');
      return { enabled: true, why: null, leaks: parseKmemleakReport(raw), raw };
    } catch (e) {
      failed = `read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    }
  }
  const said = log().filter((l) => KMEMLEAK_SAYS.test(l));
  if (!failed) return { enabled: true, why: null, leaks: [] };
  return { enabled: false, why: [failed, ...said].join('; '), leaks: [] };
}

/** kmemleak answers EPERM to any command once it has disabled itself. */
export function kmemleakEnabled(): boolean {
  try {
    writeFileSync(KMEMLEAK, 'scan=off');
    return true;
  } catch {
    return false;
  }
}

/** Starts reading /dev/kmsg from now; the returned function gives the message texts since
 * and closes it (called again, it returns nothing). The reader is native/kmsg.c's, the sweep's. */
export function openKmsg(): () => string[] {
  const fd = loadBinding().kmsgOpen(false);
  let closed = false;
  return () => {
    if (closed) return [];
    closed = true;
    try {
      return loadBinding().kmsgRead(fd).map((r) => r.text);
    } finally {
      closeSync(fd);
    }
  };
}

/** Every record still in the kernel's log buffer, oldest first: timestamp (us since boot) and text. */
export function kmsgRecords(): Array<{ usec: number; text: string }> {
  const fd = loadBinding().kmsgOpen(true);
  try {
    return loadBinding().kmsgRead(fd);
  } finally {
    closeSync(fd);
  }
}
