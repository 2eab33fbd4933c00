// Kernel log lines that say something went wrong: oopses, BUGs, warnings, KASAN reports, panics.
const PROBLEM = /^(?:\[\s*\d+\.\d+\] )?((?:WARNING: |BUG: |Oops: |kernel BUG at |general protection fault|KASAN: |UBSAN: |Kernel panic - )\S.*)$/;

/** The headline of every problem the kernel logged, in order. */
export function kernelProblems(log: string): string[] {
  const out: string[] = [];
  for (const line of log.split('\n')) {
    const m = PROBLEM.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}
