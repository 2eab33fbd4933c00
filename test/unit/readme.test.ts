// The README's knob table is generated from the schema: docs and code cannot drift.
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMON_KNOBS, INJECTORS, knobTable } from '../../src/fault-knobs.js';

const readme = new URL('../../README.md', import.meta.url);
const START = '<!-- knobs:start -->\n';
const END = '\n<!-- knobs:end -->';

describe('README', () => {
  it('shows the knob table knobTable() generates, exactly', () => {
    let text = readFileSync(readme, 'utf8');
    const from = text.indexOf(START);
    const to = text.indexOf(END);
    expect(from, 'README.md has no <!-- knobs:start --> marker').toBeGreaterThan(0);
    if (process.env.KFAULT_UPDATE_README === '1') {
      text = text.slice(0, from + START.length) + knobTable() + text.slice(to);
      writeFileSync(readme, text);
    }
    expect(text.slice(from + START.length, text.indexOf(END))).toBe(knobTable());
  });

  it('the table has a row for every knob of every injector', () => {
    const table = knobTable();
    for (const key of Object.keys(COMMON_KNOBS)) expect(table).toContain(`\`faults.<injector>.${key}\``);
    for (const [inj, i] of Object.entries(INJECTORS)) {
      expect(table).toContain(`\`${i.config}\``);
      for (const key of Object.keys(i.knobs)) expect(table).toContain(`\`faults.${inj}.${key}\``);
    }
  });
});
