// The agent's side of the 'bench' request (bench/): run a benchmark program in the guest, under
// a sweep's fault settings when asked, and say when the guest got where during its boot.
import type { BenchResult, BootMarks, Request } from '../protocol.js';
import { childProcess } from './child-process.js';
import { FAIL_NTH_SETTINGS, hasAttr, optInSettings, withFaultSettings } from './faults.js';
import { kallsymsAddress, planKmemleakFilter, probeGuest } from './kmemleak-filter.js';
import { kmsgRecords } from './kmsg.js';

export type BenchRequest = Extract<Request, { type: 'bench' }>;

/** The guest's CLOCK_MONOTONIC in ms: the same clock the kernel's log timestamps start from. */
export const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;

/** When the kernel ran init, from its log (read once; null when the record is gone). */
let initExec: number | null | undefined;
function initExecMs(): number | null {
  if (initExec === undefined) {
    const usec = kmsgRecords().find((r) => /^Run \S+ as init process/.test(r.text))?.usec;
    initExec = usec === undefined ? null : usec / 1000;
  }
  return initExec;
}

export async function runBench(req: BenchRequest, cwd: string, marks: Omit<BootMarks, 'initExecMs'>): Promise<BenchResult> {
  const boot = { initExecMs: initExecMs(), ...marks };
  const maxRss = () => process.resourceUsage().maxRSS;
  if (!req.argv) return { exitCode: null, signal: null, timedOut: false, stdout: '', stderr: '', ms: 0, agentMaxRssKiB: maxRss(), boot };
  const argv = req.argv;
  const run = async () => {
    const start = performance.now();
    const r = childProcess().spawnSync(argv[0]!, argv.slice(1), { cwd, encoding: 'utf8', timeout: req.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 });
    const ms = performance.now() - start;
    if (r.error && (r.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw r.error;
    return {
      exitCode: r.status,
      signal: r.signal,
      timedOut: (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT',
      stdout: r.stdout ?? '',
      stderr: r.stderr ?? '',
      ms,
    };
  };
  let out: Awaited<ReturnType<typeof run>>;
  if (req.sweepSettings) {
    // exactly what a sweep with the default config sets: fail-nth reaches GFP_KERNEL
    // allocations, fail_usercopy and fail_futex take no steps, the kmemleak filter
    const plan = planKmemleakFilter(req.kmemleakText, req.kmemleakTextWhy, probeGuest(), kallsymsAddress);
    out = await withFaultSettings({ ...FAIL_NTH_SETTINGS, ...optInSettings(() => false, hasAttr), ...plan.settings }, run);
  } else {
    out = await run();
  }
  return { ...out, agentMaxRssKiB: maxRss(), boot };
}
