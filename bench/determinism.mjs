// The determinism section of npm run bench: the catalogue and the positive controls (the test
// module's harness), swept in ROUNDS fresh guests, in a different order each time. For each
// harness: how many distinct step sequences (nth, verdict, errno, call site) the rounds gave,
// and where a sequence differs from the most common one, the first step that differs.
//
//   node bench/run.mjs --only determinism [--rounds 20]
//   node bench/determinism.mjs [ROUNDS]   (alone: prints the section's JSON)
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { boot } from '../dist/guest/boot.js';
import { modulesFor } from '../dist/kernel/modules.js';
import { compileHarness } from '../dist/harness/compile.js';
import { catalogueFor } from '../dist/harness/needs.js';
import { verdict } from '../dist/report.js';

const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const fixture = join(root, 'test/fixtures/kfault-test-module');
const CONTROLS = ['leak', 'oops', 'warn', 'clean'];

/** One step as the report shows it: what must be the same every time. */
export function stepKey(r, s) {
  const site = s.fault ? `${s.fault.callSite ?? '?'}${s.fault.inKmemleak ? ' [kmemleak]' : ''}` : '-';
  return `${s.nth} ${verdict(s, r)} ${s.errno ?? '-'} ${site}`;
}

export function sequenceOf(r) {
  const rows = r.steps.map((s) => stepKey(r, s));
  for (const c of r.crashes) rows.push(`${c.nth} ${c.kind} ${c.headline.replace(/\d+/g, 'N')}`);
  return rows.sort((a, b) => parseInt(a) - parseInt(b));
}

/** A deterministic shuffle (mulberry32), so a round's order can be told again. */
function shuffled(items, seed) {
  let t = seed >>> 0;
  const rnd = () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let x = Math.imul(t ^ (t >>> 15), 1 | t);
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Pure: distinct sequences per harness, and the first step where each differs from the most common. */
export function summarize(byHarness) {
  const out = {};
  for (const [name, seqs] of Object.entries(byHarness)) {
    const counts = new Map();
    for (const s of seqs) counts.set(JSON.stringify(s), (counts.get(JSON.stringify(s)) ?? 0) + 1);
    const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1]);
    const common = JSON.parse(ranked[0][0]);
    const differs = ranked.slice(1).map(([k, n]) => {
      const seq = JSON.parse(k);
      const i = seq.findIndex((row, j) => row !== common[j]);
      const at = i < 0 ? common.length : i;
      return { runs: n, step: at + 1, expected: common[at] ?? '(none)', got: seq[at] ?? '(none)' };
    });
    out[name] = { distinct: counts.size, runs: seqs.length, steps: common.length, sequence: common, differs };
  }
  return out;
}

export async function determinismSection(config, kernel, rounds, log = () => {}) {
  const modules = await modulesFor(kernel, [{ path: fixture, params: '' }]);
  const library = compileHarness(join(fixture, 'harness.c'));
  const byHarness = {};
  const t0 = performance.now();
  for (let round = 0; round < rounds; round++) {
    const guest = await boot(config, { kernel });
    try {
      await guest.loadModules(modules);
      const targets = [...catalogueFor(guest.catalogue.map((h) => h.name), guest.disks).names, ...CONTROLS.map((arg) => ({ name: `harness.c(${arg})`, library, arg }))];
      const order = shuffled(targets, 0x5eed + round);
      for (const t of order) {
        const r = await guest.sweep(t);
        (byHarness[r.harness] ??= []).push(sequenceOf(r));
      }
      log(`determinism: round ${round + 1}/${rounds} done (${order.map((t) => (typeof t === 'string' ? t : t.name)).join(', ')})`);
    } finally {
      await guest[Symbol.asyncDispose]();
    }
  }
  const harnesses = summarize(byHarness);
  const wandering = Object.entries(harnesses).filter(([, h]) => h.distinct > 1).map(([n]) => n);
  return { rounds, seconds: Math.round((performance.now() - t0) / 1000), wandering, harnesses };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { parseConfig } = await import('../dist/config.js');
  const { ensureKernel } = await import('../dist/kernel/build.js');
  const config = parseConfig({});
  const kernel = await ensureKernel(config);
  const r = await determinismSection(config, kernel, Number(process.argv[2] ?? 3), (m) => process.stderr.write(m + '\n'));
  process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  process.exit(0);
}
