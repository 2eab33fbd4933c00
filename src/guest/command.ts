// A command harness, in the guest: a whole program under random injection. fail-nth is per
// thread and not inherited across fork/exec, so a command cannot be swept point by point; as
// failcmd.sh does, the command runs with make-it-fail=1 (inherited by its children) and the
// injectors' task-filter on, so faults strike it and its children only, with a probability and
// at most `times` faults per run.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseFaultSites } from '../kmsg/fault-trace.js';
import { kernelProblems } from '../kmsg/problems.js';
import type { CommandRequest, CommandResult } from '../protocol.js';
import { assertInGuest, withFaultSettings } from './faults.js';
import { openKmsg } from './kmsg.js';

const INJECTORS = ['failslab', 'fail_page_alloc'] as const;

export const COMMAND_MODE_NOTE =
  'random injection, not a sweep: fail-nth is per thread and not inherited across fork/exec, so the command ran with make-it-fail=1 (inherited by its children) and task-filter=Y, as failcmd.sh does';

export function commandSettings(r: Pick<CommandRequest, 'probability' | 'interval' | 'times'>): Record<string, string> {
  const s: Record<string, string> = {};
  for (const inj of INJECTORS) {
    Object.assign(s, {
      [`${inj}/task-filter`]: 'Y',
      [`${inj}/probability`]: String(r.probability),
      [`${inj}/interval`]: String(r.interval),
      [`${inj}/times`]: String(r.times),
      [`${inj}/space`]: '0',
      [`${inj}/ignore-gfp-wait`]: 'N',
      [`${inj}/verbose`]: '2',
      [`${inj}/verbose_ratelimit_interval_ms`]: '0',
    });
  }
  s['fail_page_alloc/min-order'] = '0';
  s['/proc/sys/kernel/printk'] = '5 7 1 7';
  return s;
}

export async function runCommand(req: CommandRequest, cwd: string): Promise<CommandResult> {
  const settings = commandSettings(req);
  const runs: CommandResult['runs'] = [];
  await withFaultSettings(settings, async () => {
    for (let run = 1; run <= req.runs; run++) {
      // times is a budget the injections use up: give every run the same
      assertInGuest();
      for (const inj of INJECTORS) writeFileSync(`/sys/kernel/debug/${inj}/times`, String(req.times));
      const log = openKmsg();
      const start = performance.now();
      const r = spawnSync('/bin/sh', ['-c', 'echo 1 > /proc/self/make-it-fail && exec "$0" "$@"', ...req.argv], {
        cwd,
        encoding: 'utf8',
        timeout: req.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 16 << 20,
      });
      const kmsg = log().join('\n');
      const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
      runs.push({
        run,
        exitCode: r.status,
        signal: r.signal,
        timedOut: (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT',
        ms: performance.now() - start,
        faults: parseFaultSites(kmsg),
        problems: kernelProblems(kmsg),
        output: output.length > 2000 ? output.slice(-2000) : output,
      });
    }
  });
  return { argv: req.argv, mode: COMMAND_MODE_NOTE, settings, runs };
}
