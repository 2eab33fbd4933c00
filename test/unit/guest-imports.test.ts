// The guest agent's boot: every module it imports is read over 9p and compiled under TCG, so its
// import graph holds kfault's own modules and Node's built-ins only (no zod: the host checks the
// protocol's schemas).
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseRequest } from '../../src/guest/request-check.js';

const src = join(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Specifiers of the imports that load a module at run time (import type is erased). */
function valueImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(import|export)\s+(type\s+)?[^'";]*?from\s+'([^']+)'/gm)].filter((m) => !m[2]).map((m) => m[3]!);
}

function importGraph(entry: string): { modules: string[]; packages: string[] } {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const queue = [entry];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of valueImports(file)) {
      if (spec.startsWith('.')) queue.push(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      else if (!spec.startsWith('node:')) packages.add(`${spec} (from ${relative(src, file)})`);
    }
  }
  return { modules: [...seen], packages: [...packages] };
}

describe("the guest agent's imports", () => {
  it('load no package: only kfault modules and node: built-ins', () => {
    const g = importGraph(join(src, 'guest/agent.ts'));
    expect(g.modules.length).toBeGreaterThan(10); // the walk did follow the imports
    expect(g.packages).toEqual([]);
  });

  it('the walk sees a package import where there is one', () => {
    expect(importGraph(join(src, 'protocol.ts')).packages).toContain('zod (from protocol.ts)');
  });
});

describe('parseRequest (the agent reads a request without zod)', () => {
  it('gives back a request with an id and a known type', () => {
    expect(parseRequest('{"id":4,"type":"harnesses"}')).toEqual({ id: 4, type: 'harnesses' });
  });

  it.each([
    ['[    5.1] noise', 'request from host: not JSON: [    5.1] noise'],
    ['[1,2]', 'request from host: expected a JSON object: [1,2]'],
    ['{"type":"harnesses"}', 'request from host: id: expected a whole number >= 0, got none'],
    ['{"id":-1,"type":"harnesses"}', 'request from host: id: expected a whole number >= 0, got -1'],
    ['{"id":2.5,"type":"harnesses"}', 'request from host: id: expected a whole number >= 0, got 2.5'],
    ['{"id":3,"type":"reboot"}', 'request from host: type: expected one of command, commandTrace, commandSweep, functionTrace, functionSweep, sweep, sweeps, stress, faults, kmemleak, modules, harnesses, bench, shell, shutdown, got "reboot"'],
    ['{"id":3,"type":"toString"}', 'got "toString"'],
  ])('refuses %s, naming what is wrong', (line, message) => {
    expect(() => parseRequest(line)).toThrow(message);
  });
});
