// kfault's sweep through the addon, driven from JavaScript in the guest, with no host in the
// loop (run by bench/run.mjs through the agent's bench request). Two ways, alternating, in one
// process; one sweep of each first, unmeasured (warm-up); prints one JSON line.
//   node bench/addon-sweep.mjs HARNESS SWEEPS
// raw:   the binding's sweep() (build/Release/kfault.node) with a step callback that only counts
// agent: what the agent does per step short of writing to its port: dist/addon.js's sweep()
//        (errno name, fault site parsed from the step's kernel log) and the step event
//        serialized, as the agent's send() does
import { sweep } from '../dist/addon.js';
import { loadBinding } from '../dist/native.js';

const [harness, n] = process.argv.slice(2);
const sweeps = Number(n);
const dir = process.cwd();
const steps = { first: 1, last: 1000, skip: [] };
const binding = loadBinding();
const ways = {
  raw: async () => {
    let count = 0;
    await binding.sweep({ harness }, dir, steps, () => count++);
    return count;
  },
  agent: async () => {
    let count = 0;
    await sweep({ harness, library: null, arg: '' }, dir, steps, (step) => {
      count++;
      JSON.stringify({ type: 'step', id: 1, step });
    });
    return count;
  },
};
const out = {};
for (const [name, once] of Object.entries(ways)) {
  out[name] = { harness, sweeps: 0, steps: 0, ns: 0, firstSweepSteps: await once() };
}
// alternate in chunks, so a burst of load on the machine hits both alike
const chunk = Math.max(1, Math.floor(sweeps / 4));
for (let done = 0; done < sweeps; done += chunk) {
  for (const [name, once] of Object.entries(ways)) {
    const o = out[name];
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < Math.min(chunk, sweeps - done); i++) {
      o.steps += await once();
      o.sweeps++;
    }
    o.ns += Number(process.hrtime.bigint() - t0);
  }
}
console.log(JSON.stringify(out));
