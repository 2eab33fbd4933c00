// kmemleak's report (/sys/kernel/debug/kmemleak), as 6.12 prints it:
//   unreferenced object 0xffff888003a1c000 (size 64):
//     comm "node", pid 55, jiffies 4294892345
//     hex dump (first 32 bytes):
//       00 00 00 00 00 00 00 00 ...  ................
//     backtrace (crc 5a1b2c3d):
//       [<ffffffff81100b2e>] kmemleak_alloc+0x4e/0x80
import type { Leak } from './leak.js';

// The schema is in leak.js: the guest agent parses with this module and loads no zod.
export type { Leak };

export function parseKmemleakReport(text: string): Leak[] {
  const leaks: Leak[] = [];
  let cur: Leak | undefined;
  let section: 'none' | 'hex' | 'backtrace' = 'none';
  for (const line of text.split('\n')) {
    const head = /^unreferenced object (0x[0-9a-f]+) \(size (\d+)\):/.exec(line);
    if (head) {
      cur = { address: head[1]!, size: Number(head[2]), comm: '', pid: -1, jiffies: 0, crc: null, hexDump: [], frames: [] };
      leaks.push(cur);
      section = 'none';
      continue;
    }
    if (!cur) continue;
    const comm = /^\s+comm "(.*)", pid (-?\d+), jiffies (\d+)/.exec(line);
    if (comm) {
      cur.comm = comm[1]!;
      cur.pid = Number(comm[2]);
      cur.jiffies = Number(comm[3]);
      continue;
    }
    if (/^\s+hex dump/.test(line)) {
      section = 'hex';
      continue;
    }
    const bt = /^\s+backtrace(?: \(crc ([0-9a-f]+)\))?:/.exec(line);
    if (bt) {
      cur.crc = bt[1] ?? null;
      section = 'backtrace';
      continue;
    }
    if (section === 'hex' && /^\s{4}[0-9a-f]{2} /.test(line)) cur.hexDump.push(line.trim());
    // 6.12 prints "    name+0xoff/0xsize [module]"; older kernels put "[<address>] " first.
    const frame = /^\s+(?:\[<[0-9a-f]+>\] )?([\w.$]+\+0x[0-9a-f]+\/0x[0-9a-f]+(?: \[\S+\])?)\s*$/.exec(line);
    if (section === 'backtrace' && frame) cur.frames.push(frame[1]!);
  }
  return leaks;
}
