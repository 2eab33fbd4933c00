// kfault command's random runs as text.
import type { CommandResult } from '../protocol.js';

type Run = CommandResult['runs'][number];

function exitOf(x: Run): string {
  if (!x.started) return `did not start (execve: ${x.execError})`;
  return x.timedOut ? 'killed at timeout' : x.signal ? x.signal : `exit ${x.exitCode}`;
}

function lastLine(output: string): string {
  const l = output.trimEnd().split('\n').pop()!.trim();
  return l.length > 50 ? `${l.slice(0, 47)}...` : l;
}

export function commandTable(r: CommandResult): string {
  const s = r.settings;
  const rows = [['run', 'program', 'faults', 'where (syscall: call site)', 'output (last line)', 'result']];
  for (const x of r.runs) {
    const sites = [...new Set(x.faults.map((f) => `${f.syscall ?? '?'}: ${[f.callSite ?? '(no trace)', f.caller].filter(Boolean).join(' <- ')}`))].join(', ');
    rows.push([String(x.run), exitOf(x), String(x.faults.length), sites || '-', lastLine(x.output) || '-', x.problems.length ? x.problems.join('; ') : x.started ? 'ok' : 'NOT RUN']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => '  ' + row.map((c, i) => (i === 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd());
  const count = (keys: string[]) => {
    const m = new Map<string, number>();
    for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
    return [...m].map(([k, n]) => `${k} x${n}`).join(', ');
  };
  const ran = r.runs.filter((x) => x.started);
  const notRun = r.runs.filter((x) => !x.started);
  const faults = ran.flatMap((x) => x.faults);
  const problems = r.runs.reduce((n, x) => n + x.problems.length, 0);
  return [
    `command: ${r.argv.join(' ')}`,
    `mode: ${r.mode}; failslab and fail_page_alloc: probability ${s['failslab/probability']}%, interval ${s['failslab/interval']}, times ${s['failslab/times']} per run`,
    ...lines,
    [
      `${r.runs.length} runs: the program ran in ${ran.length}${ran.length ? ` (${count(ran.map(exitOf))})` : ''}`,
      ...(notRun.length ? [`it did NOT start in ${notRun.length} (${count(notRun.map(exitOf))}): those runs tested nothing`] : []),
      `${faults.length} faults traced${faults.length ? ` (${count(faults.map((f) => f.syscall ?? 'unknown'))})` : ''}`,
      problems ? `${problems} problems` : 'no problems',
    ].join('; '),
  ].join('\n');
}
