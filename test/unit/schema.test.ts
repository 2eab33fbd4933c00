// kfault/schema.json: generated from the zod schema at every build (dist/schema.json), and it
// agrees with the zod schema on the README's own configs: it accepts the example and rejects the
// bad one at the very paths kfault's errors name.
import { existsSync, readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.js';
import { configJsonSchema } from '../../src/schema.js';

const root = new URL('../../', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');
const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('### Three modes'));

/** The README's example: the object literal passed to defineConfig in the kfault.config.ts block. */
function exampleConfig(): unknown {
  const block = /```ts\n\/\/ kfault\.config\.ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(block, "README's Configuration section has no kfault.config.ts example").toBeDefined();
  const literal = /defineConfig\(([\s\S]*)\);\s*$/.exec(block!)?.[1];
  expect(literal).toBeDefined();
  return new Function(`return (${literal});`)();
}

/** The README's bad config (`$ cat bad.json`) and the lines kfault prints for it. */
function badConfig(): { config: unknown; printed: string } {
  const m = /\$ cat bad\.json\n(.*)\n\$ kfault sweep pipe2 --config bad\.json\n([\s\S]*?)```/.exec(section);
  expect(m, "README's Configuration section has no bad.json example").not.toBeNull();
  return { config: JSON.parse(m![1]!), printed: m![2]!.trimEnd() };
}

const schema = configJsonSchema();
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);

/** ajv's errors as dotted config paths, the way kfault's errors name them. */
function schemaPaths(errors: ErrorObject[] | null | undefined): string[] {
  // a missing property is named at the object that lacks it; kfault names the property
  const path = (e: ErrorObject) => [...e.instancePath.split('/').slice(1), ...(e.keyword === 'required' ? [(e.params as { missingProperty: string }).missingProperty] : [])].join('.');
  return [...new Set((errors ?? []).map(path))].sort();
}

function zodPaths(config: unknown): string[] {
  try {
    parseConfig(config);
  } catch (e) {
    if (e instanceof ConfigError) return [...new Set(e.problems.map((p) => p.path))].sort();
    throw e;
  }
  return [];
}

describe('kfault/schema.json', () => {
  it('schema.json is what the zod schema generates now (the build writes it)', () => {
    const shipped = new URL('schema.json', root);
    expect(existsSync(shipped), 'schema.json is missing: npm run build:ts').toBe(true);
    expect(JSON.parse(readFileSync(shipped, 'utf8')), 'schema.json is stale: npm run build:ts').toEqual(schema);
  });

  it('ships at the package root (where "$schema": "./node_modules/kfault/schema.json" finds it), exported as kfault/schema.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { exports: Record<string, unknown>; files: string[] };
    expect(pkg.exports['./schema.json']).toBe('./schema.json');
    expect(pkg.files).toContain('schema.json');
  });

  it("accepts the README's example config, as kfault does", () => {
    const config = exampleConfig();
    expect(zodPaths(config)).toEqual([]);
    expect(validate(config), JSON.stringify(validate.errors)).toBe(true);
  });

  it("rejects the README's bad config at the paths kfault's errors name", () => {
    const { config, printed } = badConfig();
    // the README shows exactly what kfault prints for it
    expect(() => parseConfig(config)).toThrow(printed);
    const paths = zodPaths(config);
    expect(paths).toEqual(['faults.fail_page_alloc.minOrder', 'faults.failslab', 'machine.accel']);
    expect(validate(config)).toBe(false);
    expect(schemaPaths(validate.errors)).toEqual(paths);
    // the misspelled key is named too
    expect(validate.errors!.find((e) => e.keyword === 'additionalProperties')?.params).toEqual({ additionalProperty: 'probabilty' });
  });

  it('takes "$schema", a module as a bare path, and defaults left out, as kfault does', () => {
    const config = { $schema: './node_modules/kfault/schema.json', modules: ['drivers/mydrv', { path: 'x.ko', params: 'a=1' }], faults: { fail_page_alloc: { reject: ['a', 'b'] } } };
    expect(zodPaths(config)).toEqual([]);
    expect(validate(config), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({})).toBe(true);
  });

  it('rejects what zod rejects, at the same path', () => {
    const bad = [
      { kernle: {} },
      { kernel: { source: 'linux-6.12' } },
      { machine: { cpus: 0 } },
      { sweep: { mode: 'fuzz' } },
      { faults: { failslabs: {} } },
      { faults: { failslab: { reject: ['a', 'b', 'c'] } } },
      { faults: { failslab: { require: 'alloc_pipe_info+0x10' } } },
      { faults: { failslab: { taskFilter: 'Y' } } },
      { modules: [{ params: 'a=1' }] },
      { kmemleak: { suppress: ['not a name'] } },
      { harnesses: [''] },
    ];
    for (const config of bad) {
      expect(validate(config), JSON.stringify(config)).toBe(false);
      const paths = zodPaths(config);
      expect(paths.length, JSON.stringify(config)).toBeGreaterThan(0);
      // ajv names the same place; through anyOf branches it also names the places around it
      const near = (a: string, b: string) => a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);
      for (const p of schemaPaths(validate.errors)) expect(paths.some((z) => near(p, z)), `${JSON.stringify(config)}: ajv ${p}, zod ${paths}`).toBe(true);
      expect(schemaPaths(validate.errors), JSON.stringify(config)).toContain(paths[0]);
    }
  });

  it('describes every fault knob for editors', () => {
    const failslab = (schema as { properties: { faults: { properties: Record<string, { description?: string; properties: Record<string, { description?: string }> }> } } }).properties.faults.properties.failslab!;
    expect(failslab.description).toContain('CONFIG_FAILSLAB');
    expect(failslab.properties.ignoreGfpWait!.description).toMatch(/^ignore-gfp-wait: /);
    for (const k of Object.values(failslab.properties)) expect(k.description).toBeTruthy();
  });
});
