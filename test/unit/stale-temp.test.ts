// What a kfault killed with SIGKILL leaves, and the next run removes: an agent socket dir of a
// QEMU that never connected (kept only until QEMU connects, so only a kill in that moment leaves
// one), and a half-written harness build. Nothing that is not kfault's, or still in use, is touched.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeStaleSocketDirs } from '../../src/guest/boot.js';
import { removeStaleBuilds } from '../../src/harness/compile.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const scratch = () => {
  const d = mkdtempSync(join(tmpdir(), 'kfault-stale-test-'));
  dirs.push(d);
  return d;
};
const age = (path: string, seconds: number) => {
  const t = Date.now() / 1000 - seconds;
  utimesSync(path, t, t);
};

describe('socket dirs of a killed kfault', () => {
  it('removes kfault-XXXXXX dirs older than a minute that hold only agent sockets', () => {
    const base = scratch();
    const make = (name: string, files: string[], seconds: number) => {
      mkdirSync(join(base, name));
      for (const f of files) writeFileSync(join(base, name, f), '');
      age(join(base, name), seconds);
    };
    make('kfault-AbC123', ['agent-tcg-1.sock'], 120); // stale
    make('kfault-Empty1', [], 120); // stale, QEMU never got as far as the socket
    make('kfault-Fresh1', ['agent-tcg-2.sock'], 1); // a kfault connecting its QEMU right now
    make('kfault-Other1', ['agent-tcg-1.sock', 'notes.txt'], 120); // something else is in it
    make('kfault-notmine-dir', [], 120); // not kfault's name
    expect(removeStaleSocketDirs(base).sort()).toEqual([join(base, 'kfault-AbC123'), join(base, 'kfault-Empty1')]);
    expect(readdirSync(base).sort()).toEqual(['kfault-Fresh1', 'kfault-Other1', 'kfault-notmine-dir']);
  });

  it('a base that does not exist: nothing to do, no error', () => {
    expect(removeStaleSocketDirs(join(scratch(), 'missing'))).toEqual([]);
  });
});

describe('half-written harness builds of a killed kfault', () => {
  it('removes NAME.so.tmp-PID of a process that is gone, keeps those of live ones and every .so', () => {
    const dir = scratch();
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(gone.stdout);
    for (const f of [`h-abc.so.tmp-${deadPid}`, `h-abc.so.tmp-${process.pid}`, `h-def.so.tmp-${process.ppid}`, 'h-abc.so']) writeFileSync(join(dir, f), '');
    expect(removeStaleBuilds(dir)).toEqual([join(dir, `h-abc.so.tmp-${deadPid}`)]);
    expect(readdirSync(dir).sort()).toEqual(['h-abc.so', `h-abc.so.tmp-${process.pid}`, `h-def.so.tmp-${process.ppid}`].sort());
    expect(existsSync(join(dir, 'h-abc.so'))).toBe(true);
  });
});
