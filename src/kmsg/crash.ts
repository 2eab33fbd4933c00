// A crash on the serial console: the oops or panic report of the step that took the guest down.
//   [    5.21] BUG: kernel NULL pointer dereference, address: 0000000000000000
//   [    5.21] Oops: Oops: 0000 [#1] SMP
//   [    5.21] CPU: 0 UID: 0 PID: 57 Comm: kf#2 Tainted: G           O       6.12.117 #1
//   [    5.21] RIP: 0010:oopsy+0x2a/0x90 [kfault_test]
//   ...
//   [    5.22] Kernel panic - not syncing: Fatal exception
const STAMP = /^\[\s*\d+\.\d+\]\s?/;
const START = /^(BUG: |Oops: |kernel BUG at |general protection fault|KASAN: |Kernel panic - |UBSAN: )/;

export interface ConsoleCrash {
  kind: 'oops' | 'panic';
  headline: string;
  /** the function the RIP line names, e.g. "oopsy+0x2a/0x90 [kfault_test]" */
  at: string | null;
  pid: number | null;
  comm: string | null;
  /** the report's lines, without timestamps */
  log: string[];
}

/** The first crash report in console lines, or null when there is none. */
export function parseConsoleCrash(lines: string[]): ConsoleCrash | null {
  const text = lines.map((l) => l.replace(STAMP, ''));
  const start = text.findIndex((l) => START.test(l));
  if (start < 0) return null;
  const panicAt = text.findIndex((l, i) => i >= start && /^Kernel panic - /.test(l));
  const log = text.slice(start, panicAt >= 0 ? panicAt + 1 : Math.min(text.length, start + 80));
  const who = log.map((l) => /\bPID: (\d+) Comm: (\S+)/.exec(l)).find(Boolean);
  const rip = log.map((l) => /^RIP: [0-9a-f]+:(.+?)\s*$/.exec(l)).find(Boolean);
  const oops = log.some((l) => /^(BUG: |Oops: |kernel BUG at |general protection fault)/.test(l));
  return {
    kind: oops ? 'oops' : 'panic',
    headline: text[start]!,
    at: rip?.[1] ?? null,
    pid: who ? Number(who[1]) : null,
    comm: who?.[2] ?? null,
    log,
  };
}

/** The step a sweep thread was running: its comm is "kf#<nth>" (see native/sweep.c). */
export function stepOfComm(comm: string | null): number | null {
  const m = /^kf#(\d+)$/.exec(comm ?? '');
  return m ? Number(m[1]) : null;
}
