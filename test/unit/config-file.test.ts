// kfault.config.ts (typed, defineConfig), .mjs and .json: found, loaded, validated; loading
// problems named with the file.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configFrom, parse } from '../../src/cli/args.js';
import { findConfigFile, readConfigFile } from '../../src/cli/config-file.js';
import { ConfigError } from '../../src/config.js';

// inside the package, so that `import { defineConfig } from 'kfault'` resolves as in a user's project
const root = new URL('../..', import.meta.url).pathname;
mkdirSync(join(root, '.kfault'), { recursive: true });
const base = mkdtempSync(join(root, '.kfault', 'config-test-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

let n = 0;
function project(files: Record<string, string>): string {
  const dir = join(base, String(n++));
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

async function problem(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => null, (e: unknown) => e);
  expect(e).toBeInstanceOf(ConfigError);
  return (e as Error).message;
}

describe('config files', () => {
  it('kfault.config.ts: types stripped, defineConfig from the package, relative imports work', async () => {
    const dir = project({
      'kfault.config.ts': [
        "import { defineConfig, type UserConfig } from 'kfault';",
        "import { iterations } from './shared.mjs';",
        "const machine: UserConfig['machine'] = { accel: 'tcg', memoryMiB: 768 };",
        "export default defineConfig({ machine, sweep: { mode: 'random', iterations }, faults: { failslab: { probability: 5, require: ['alloc_pipe_info', 'free_pipe_info'] } } });",
      ].join('\n'),
      'shared.mjs': 'export const iterations = 42;\n',
    });
    const c = await configFrom(parse(['sweep']).values, dir);
    expect(c.machine).toMatchObject({ accel: 'tcg', memoryMiB: 768, cpus: 2 });
    expect(c.sweep).toMatchObject({ mode: 'random', iterations: 42 });
    expect(c.faults.failslab).toEqual({ probability: 5, require: ['alloc_pipe_info', 'free_pipe_info'] });
    expect(readdirSync(dir).sort()).toEqual(['kfault.config.ts', 'shared.mjs']); // no transpiled file left behind
  });

  it('flags go on top of the file', async () => {
    const dir = project({ 'kfault.config.mjs': "export default { sweep: { mode: 'random', iterations: 5 }, machine: { cpus: 1 } };\n" });
    const c = await configFrom(parse(['sweep', '--iterations', '9', '--probability', '20']).values, dir);
    expect(c.sweep.iterations).toBe(9);
    expect(c.machine.cpus).toBe(1);
    expect(c.faults.failslab?.probability).toBe(20);
    expect(c.faults.fail_page_alloc?.probability).toBe(20);
  });

  it('finds .ts before .mjs before .json, and none is no config', () => {
    const dir = project({ 'kfault.config.json': '{}', 'kfault.config.mjs': 'export default {};' });
    expect(findConfigFile(undefined, dir)).toBe(join(dir, 'kfault.config.mjs'));
    expect(findConfigFile(undefined, project({}))).toBeUndefined();
  });

  it('the file is validated like any config: the exact text', async () => {
    const dir = project({ 'kfault.config.ts': "export default { faults: { fail_page_alloc: { minOrder: 11 } } };\n" });
    expect(await problem(configFrom(parse(['sweep']).values, dir))).toBe(
      'invalid kfault configuration:\n  faults.fail_page_alloc.minOrder: Too big: expected number to be <=10; got 11',
    );
  });

  it('a TypeScript syntax error names the file and the line', async () => {
    const dir = project({ 'kfault.config.ts': "export default {\n  sweep: { mode: 'random' ,, },\n};\n" });
    expect(await problem(readConfigFile(undefined, dir))).toBe('invalid kfault configuration:\n  kfault.config.ts: line 2: Property assignment expected.');
  });

  it('a module without a default export says what it expected', async () => {
    const dir = project({ 'kfault.config.mjs': 'export const config = {};\n' });
    expect(await problem(readConfigFile(undefined, dir))).toBe(
      'invalid kfault configuration:\n  kfault.config.mjs: expected export default defineConfig({ ... }), got undefined',
    );
  });

  it('a module that throws names the file and the error', async () => {
    const dir = project({ 'kfault.config.mjs': "throw new Error('no config today');\n" });
    expect(await problem(readConfigFile(undefined, dir))).toBe('invalid kfault configuration:\n  kfault.config.mjs: failed to load: no config today');
  });
});
