// The leak-detection section of npm run bench: how often kmemleak reports the test module's
// planted leak (harness.c:leak, nth=3) after a sweep, checked ROUNDS times in one guest with
// kmemleak cleared before each round, as the vitest fixture does before each test. Once as
// kfault boots (init_on_alloc=1) and once with allocations left unzeroed (init_on_alloc=0):
// unzeroed memory keeps stale pointers (SLUB's free pointer, old data; and leaks that `clear`
// turned grey are scanned for ever), which kmemleak counts as references to the new leak.
//
//   node bench/run.mjs --only leak-detection      (BENCH_LEAK_ROUNDS, default 20)
//   node bench/leak-detection.mjs [ROUNDS]        (alone: prints the section's JSON)
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { boot } from '../dist/guest/boot.js';
import { modulesFor } from '../dist/kernel/modules.js';
import { compileHarness } from '../dist/harness/compile.js';

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const fixture = join(root, 'test/fixtures/kfault-test-module');

async function rate(config, kernel, modules, library, rounds, log) {
  const guest = await boot(config, { kernel });
  const missed = [];
  try {
    await guest.loadModules(modules);
    for (let round = 1; round <= rounds; round++) {
      await guest.kmemleakClear();
      const r = await guest.sweep({ name: 'harness.c(leak)', library, arg: 'leak' });
      const k = await guest.kmemleakCheck();
      if (!k.enabled) throw new Error(`kmemleak is not working: ${k.why}`);
      const planted = k.leaks.filter((l) => l.comm === 'kf#3' && l.frames.some((f) => f.startsWith('leaky+')));
      if (planted.length !== 1) missed.push(round);
      if (!r.steps.some((s) => s.nth === 3 && s.injected)) throw new Error(`round ${round}: nth=3 was not injected`);
    }
  } finally {
    await guest[Symbol.asyncDispose]();
  }
  log(`leak-detection: ${config.machine.cmdline.join(' ') || 'kfault default'}: found ${rounds - missed.length}/${rounds}`);
  return { rounds, found: rounds - missed.length, missed };
}

export async function leakDetectionSection(config, kernel, rounds, log = () => {}) {
  const modules = await modulesFor(kernel, [{ path: fixture, params: '' }]);
  const library = compileHarness(join(fixture, 'harness.c'));
  const t0 = performance.now();
  const withZeroing = await rate(config, kernel, modules, library, rounds, log);
  const unzeroed = { ...config, machine: { ...config.machine, cmdline: [...config.machine.cmdline, 'init_on_alloc=0'] } };
  const withoutZeroing = await rate(unzeroed, kernel, modules, library, rounds, log);
  return { rounds, seconds: Math.round((performance.now() - t0) / 1000), initOnAlloc: withZeroing, noInitOnAlloc: withoutZeroing };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { parseConfig } = await import('../dist/config.js');
  const { ensureKernel } = await import('../dist/kernel/build.js');
  const config = parseConfig({});
  const kernel = await ensureKernel(config);
  const r = await leakDetectionSection(config, kernel, Number(process.argv[2] ?? 5), (m) => process.stderr.write(m + '\n'));
  process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  process.exit(0);
}
