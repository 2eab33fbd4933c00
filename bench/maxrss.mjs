// node --import ./bench/maxrss.mjs bin/kfault.js ...: at exit, writes the process's peak RSS
// (KiB, getrusage) to the file named by KFAULT_BENCH_RSS. Used by bench/run.mjs.
import { writeFileSync } from 'node:fs';

process.on('exit', () => {
  if (process.env.KFAULT_BENCH_RSS) writeFileSync(process.env.KFAULT_BENCH_RSS, String(process.resourceUsage().maxRSS));
});
