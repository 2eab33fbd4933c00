// Reports of a fail_make_request run in random mode, on its saved real results (the block
// profile's kernel, TCG, 2026-12-02): the runs table names the bio's submitter and carries the
// per-run e2fsck line, and `kfault report` shows a random-mode result as random mode's table.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { randomTable } from '../../src/report.js';
import { ResultsFile } from '../../src/results-file.js';

const path = new URL('../fixtures/results/block-6.12.117-fail-make-request-random.json', import.meta.url).pathname;
const saved = ResultsFile.parse(JSON.parse(readFileSync(path, 'utf8')));

describe('fail_make_request in random mode, reported', () => {
  it('groups the runs by errno and submitter, with the fsck line of every run', () => {
    const t = randomTable(saved.results[0]!);
    expect(t).toMatch(/^\s+3 {2}EIO {4}submit_bh_wbc\.constprop\.0\+0xf9 <- submit_bh {2}0$/m);
    expect(t).toContain('fsck: e2fsck -fn after 3 steps: 3 clean, 0 corrupted');
  });

  it('kfault report shows it as random mode does, not as a systematic sweep stopped at max-steps', () => {
    const bin = new URL('../../bin/kfault.js', import.meta.url).pathname;
    const r = spawnSync(process.execPath, [bin, 'report', path], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('random mode: make-it-fail on the harness thread');
    expect(r.stdout).not.toContain('stopped at max-steps');
  });
});
