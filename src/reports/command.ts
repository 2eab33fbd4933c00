// A command harness's runs as text.
import type { CommandResult } from '../protocol.js';

export function commandTable(r: CommandResult): string {
  const s = r.settings;
  const rows = [['run', 'exit', 'faults', 'call sites', 'result']];
  for (const x of r.runs) {
    const exit = x.timedOut ? 'timeout' : x.signal ? x.signal : String(x.exitCode);
    const sites = [...new Set(x.faults.map((f) => [f.callSite ?? '(no trace)', f.caller].filter(Boolean).join(' <- ')))].join(', ');
    rows.push([String(x.run), exit, String(x.faults.length), sites || '-', x.problems.length ? x.problems.join('; ') : 'ok']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => '  ' + row.map((c, i) => (i === 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd());
  const exits = new Map<string, number>();
  for (const x of r.runs) {
    const k = x.timedOut ? 'timeout' : (x.signal ?? `exit ${x.exitCode}`);
    exits.set(k, (exits.get(k) ?? 0) + 1);
  }
  const problems = r.runs.reduce((n, x) => n + x.problems.length, 0);
  return [
    `command: ${r.argv.join(' ')}`,
    `mode: ${r.mode}; failslab and fail_page_alloc: probability ${s['failslab/probability']}%, interval ${s['failslab/interval']}, times ${s['failslab/times']} per run`,
    ...lines,
    `${r.runs.length} runs: ${[...exits].map(([k, n]) => `${k} x${n}`).join(', ')}; ${r.runs.reduce((n, x) => n + x.faults.length, 0)} faults traced; ${problems ? `${problems} problems` : 'no problems'}`,
  ].join('\n');
}
