// The QEMU processes whose command line names a directory, read from /proc: the CI image has no
// procps, and a missing pgrep must not read as "no QEMU left". A test gives kfault a TMPDIR of its
// own; QEMU's command line names the agent's socket in it, so this finds that run's QEMU only.
import { readdirSync, readFileSync } from 'node:fs';

/** "PID ARGV..." of each QEMU whose argv names dir */
export function qemuNaming(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // exited while we looked
    }
    if (argv.some((a) => /qemu-system/.test(a)) && argv.some((a) => a.includes(dir))) found.push(`${pid} ${argv.join(' ')}`);
  }
  return found;
}
