// A user's harness runs in a freshly exec'd process (native/harness-runner.c), not in a fork of
// the multi-threaded agent: only fds 0-2 and the pipe to the agent come with it, never the
// agent's virtio port or its event loop's fds. The fixture writes its view of its own process
// into a file in the guest, which a program run by the agent then reads back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boot, parseConfig, type Guest } from '../../src/index.js';
import { compileHarness } from '../../src/harness/compile.js';

const fixture = new URL('../fixtures/harnesses/report-process.c', import.meta.url).pathname;
const REPORT = '/run/kfault/report-process.txt';

let guest: Guest;
let fds: Map<number, string>;
let exe: string;
beforeAll(async () => {
  guest = await boot(parseConfig({}));
  const r = await guest.sweep({ name: 'report-process.c', library: compileHarness(fixture), arg: REPORT });
  expect(r.complete).toBe(true);
  const cat = await guest.command(['/bin/cat', REPORT], { runs: 1, probability: 0, times: 0 });
  const lines = cat.runs[0]!.output.trim().split('\n');
  fds = new Map(lines.flatMap((l): Array<[number, string]> => {
    const m = /^fd (\d+) (.*)$/.exec(l);
    return m ? [[Number(m[1]), m[2]!]] : [];
  }));
  exe = lines.find((l) => l.startsWith('exe '))?.slice(4) ?? '';
  expect(fds.size, cat.runs[0]!.output).toBeGreaterThan(0);
}, 240_000);
afterAll(async () => {
  await guest?.close();
});

describe("the process a user's harness runs in", () => {
  it('is the harness runner, exec\'d: not a fork of the agent (node)', () => {
    expect(exe).toMatch(/\/build\/Release\/kfault-harness-runner$/);
  });

  it('holds no fd of the agent: not its virtio port, only stdio, the pipe to the agent and the sweep loop\'s own', () => {
    const all = [...fds].map(([fd, target]) => `${fd} -> ${target}`);
    expect(all.filter((l) => /vport|virtio/.test(l))).toEqual([]);
    // what kf_sweep_here opens before the harness's setup: fail-nth, /dev/kmsg, the trace marker
    const loop = /\/fail-nth$|^\/dev\/kmsg$|\/trace_marker$/;
    const beyondStdio = [...fds].filter(([fd, target]) => fd > 2 && !loop.test(target)).map(([fd, target]) => `${fd} -> ${target}`);
    expect(beyondStdio).toEqual([expect.stringMatching(/^3 -> pipe:\[\d+\]$/)]);
  });
});
