// `kfault init` as a user runs it (the compiled bin): the starting config it writes is one kfault
// loads and the schema accepts, and it never overwrites a config that is there.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import { configFrom } from '../../src/cli/args.js';
import { defaults } from '../../src/config.js';

const root = new URL('../../', import.meta.url).pathname;
const bin = join(root, 'bin/kfault.js');
// Under the repository (.kfault/ is gitignored), not /tmp: `import ... from 'kfault'` in the
// written kfault.config.ts resolves to this package there, as it does in a user's project.
mkdirSync(join(root, '.kfault'), { recursive: true });
const base = mkdtempSync(join(root, '.kfault/init-test-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshDir = () => {
  const d = join(base, `p${n++}`);
  mkdirSync(d);
  return d;
};
const kfault = (cwd: string, ...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd });

describe('kfault init', () => {
  it('writes a kfault.config.ts that kfault loads and TypeScript type-checks', async () => {
    const dir = freshDir();
    const r = kfault(dir, 'init');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('wrote kfault.config.ts\n');
    expect(r.status).toBe(0);
    const text = readFileSync(join(dir, 'kfault.config.ts'), 'utf8');
    expect(text).toContain("import { defineConfig } from 'kfault';");
    const config = await configFrom({}, dir);
    expect(config.harnesses).toEqual(['pipe2']);
    expect(config.machine).toEqual(defaults.machine);
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--types', 'node', join(dir, 'kfault.config.ts')], { encoding: 'utf8', cwd: dir });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  }, 120_000);

  it('writes, with --json, a kfault.config.json with "$schema" that the schema and kfault accept', async () => {
    const dir = freshDir();
    const r = kfault(dir, 'init', '--json');
    expect(r.stdout).toBe('wrote kfault.config.json\n');
    expect(r.status).toBe(0);
    const json = JSON.parse(readFileSync(join(dir, 'kfault.config.json'), 'utf8')) as Record<string, unknown>;
    expect(json.$schema).toBe('./node_modules/kfault/schema.json');
    const schema = JSON.parse(readFileSync(join(root, 'schema.json'), 'utf8')) as object;
    const validate = new Ajv({ allErrors: true }).compile(schema);
    expect(validate(json), JSON.stringify(validate.errors)).toBe(true);
    const config = await configFrom({}, dir);
    expect(config.harnesses).toEqual(['pipe2']);
    expect(config.sweep.maxSteps).toBe(1000);
  });

  it('refuses to overwrite an existing config: exit 2, a clear message, the file untouched', () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'kfault.config.ts'), '// mine\n');
    const r = kfault(dir, 'init');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('kfault init: kfault.config.ts exists; not overwriting it\n');
    expect(readFileSync(join(dir, 'kfault.config.ts'), 'utf8')).toBe('// mine\n');
  });

  it('refuses to write a config that another one beside it would shadow or be shadowed by', () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'kfault.config.ts'), '// mine\n');
    const r = kfault(dir, 'init', '--json');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('kfault init: kfault.config.ts exists (kfault reads the first of kfault.config.ts, kfault.config.mts, kfault.config.mjs, kfault.config.js, kfault.config.json); not writing kfault.config.json beside it\n');
    expect(existsSync(join(dir, 'kfault.config.json'))).toBe(false);
  });
});
