// Small reads of kernel state in the guest.
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { parseKmemleakReport, type Leak } from '../kmsg/kmemleak-report.js';

const KMEMLEAK = '/sys/kernel/debug/kmemleak';
import { constants } from 'node:fs';

/** clear: forget what is unreferenced now; scan: a scan, then the report. */
export function kmemleakCommand(action: 'clear' | 'scan'): { enabled: boolean; leaks: Leak[] } {
  try {
    writeFileSync(KMEMLEAK, action);
  } catch {
    return { enabled: false, leaks: [] };
  }
  return { enabled: true, leaks: action === 'scan' ? parseKmemleakReport(readFileSync(KMEMLEAK, 'utf8')) : [] };
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
 * (and closes it: call it once). */
export function openKmsg(): () => string[] {
  const fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
  // skip what was logged before
  try {
    const buf = Buffer.alloc(8192);
    for (;;) readSync(fd, buf);
  } catch {
    /* EAGAIN: at the end */
  }
  return () => {
    const lines: string[] = [];
    const buf = Buffer.alloc(8192);
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EPIPE') continue;
        break;
      }
      if (n <= 0) break;
      const rec = buf.toString('utf8', 0, n);
      lines.push(rec.slice(rec.indexOf(';') + 1).split('\n')[0]!);
    }
    closeSync(fd);
    return lines;
  };
}
