// In the guest (run by bench/run.mjs --only profile through the agent's bench request, under a
// sweep's fault settings): what one sweep request costs the agent beyond the steps, piece by piece, in ms per
// call (median of N calls). Prints one JSON line.
//   node bench/profile-guest.mjs HARNESS N
import { snapshotFaultState, withFaultSettings, FAIL_NTH_SETTINGS } from '../dist/guest/faults.js';
import { probeGuest, planKmemleakFilter, kallsymsAddress, resolveRange } from '../dist/guest/kmemleak-filter.js';
import { knobSettings } from '../dist/fault-knobs.js';
import { sweep } from '../dist/addon.js';
import { loadBinding } from '../dist/native.js';
import { AgentMessage, parseLine, Request } from '../dist/protocol.js';

const [harness, n] = process.argv.slice(2);
const N = Number(n);
const dir = process.cwd();
const median = (v) => {
  v = [...v].sort((a, b) => a - b);
  return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
async function time(fn) {
  await fn(); // warm-up
  const t = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return Number(median(t).toFixed(3));
}
const binding = loadBinding();
const steps = { first: 1, last: 1000, skip: [] };
let count = 0;
const out = { harness, calls: N, ms: {} };
out.ms['snapshotFaultState'] = await time(() => snapshotFaultState());
out.faultAttributes = snapshotFaultState().size;
out.ms['parse a sweep request (schema)'] = await time(() =>
  parseLine(Request, JSON.stringify({ type: 'sweep', id: 1, harness, library: null, arg: '', first: 1, maxSteps: 1000, skip: [], random: false, faults: {}, kmemleakText: null, kmemleakTextWhy: 'x' }), 'x'),
);
out.ms['withFaultSettings(sweep settings, nothing)'] = await time(() => withFaultSettings({ ...FAIL_NTH_SETTINGS }, async () => {}));
out.ms['probeGuest'] = await time(() => probeGuest());
out.ms['planKmemleakFilter'] = await time(() => planKmemleakFilter(null, 'x', probeGuest(), kallsymsAddress));
out.ms['knobSettings (no knobs)'] = await time(() => knobSettings({}, resolveRange));
out.ms['binding.sweep, empty callback (a whole sweep)'] = await time(() => binding.sweep({ harness }, dir, steps, () => count++));
out.ms['addon.sweep, empty callback (errno names, fault sites; a whole sweep)'] = await time(() => sweep({ harness, library: null, arg: '' }, dir, steps, () => {}));
out.ms['addon.sweep + JSON per step, as the agent sends it (a whole sweep)'] = await time(() =>
  sweep({ harness, library: null, arg: '' }, dir, steps, (step) => JSON.stringify({ type: 'step', id: 1, step })),
);
out.ms['addon.sweep + schema check + JSON per step (the agent before, a whole sweep)'] = await time(() =>
  sweep({ harness, library: null, arg: '' }, dir, steps, (step) => {
    const msg = { type: 'step', id: 1, step };
    AgentMessage.parse(msg);
    JSON.stringify(msg);
  }),
);
// the agent's sweep handler, as in src/guest/agent.ts, with phase marks
{
  const first = [];
  const total = [];
  const restore = [];
  for (let i = 0; i <= N; i++) {
    const t0 = performance.now();
    let t1 = null;
    let t2 = 0;
    const req = parseLine(Request, JSON.stringify({ type: 'sweep', id: 1, harness, library: null, arg: '', first: 1, maxSteps: 1000, skip: [], random: false, faults: {}, kmemleakText: null, kmemleakTextWhy: 'x' }), 'x');
    const user = knobSettings(req.faults, resolveRange);
    const plan = planKmemleakFilter(req.kmemleakText, req.kmemleakTextWhy, probeGuest(), kallsymsAddress);
    await withFaultSettings({ ...FAIL_NTH_SETTINGS, ...plan.settings, ...user.settings }, async () => {
      const r = await sweep({ harness, library: null, arg: '' }, dir, steps, (step) => {
        t1 ??= performance.now() - t0;
        JSON.stringify({ type: 'step', id: 1, step });
      });
      t2 = performance.now();
      return r;
    });
    if (i === 0) continue;
    first.push(t1);
    restore.push(performance.now() - t2);
    total.push(performance.now() - t0);
  }
  out.ms['agent handler: request parsed to first step'] = Number(median(first).toFixed(3));
  out.ms['agent handler: restore after the sweep'] = Number(median(restore).toFixed(3));
  out.ms['agent handler: whole'] = Number(median(total).toFixed(3));
}
out.stepsPerSweep = count / (N + 1);
console.log(JSON.stringify(out));
