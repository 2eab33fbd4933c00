// kfault parse FILE|- [--json]: a saved console log or dmesg, offline (no guest, no kernel).
import { readFileSync } from 'node:fs';
import { isAllocatorFrame } from '../kmsg/fault-trace.js';
import { notAKernelLog, parseLog, type LogFault, type LogProblem, type ParsedLog } from '../kmsg/parse-log.js';
import type { Leak } from '../kmsg/kmemleak-report.js';
import { stepOfComm } from '../kmsg/crash.js';

/** Bad input: the command's own words, exit 2 (not a config problem). */
class ParseInputError extends Error {}

const USAGE = 'expected: kfault parse FILE|- [--json] (a console log, dmesg or /dev/kmsg dump; - reads stdin)';

function readInput(arg: string): { text: string; source: string } {
  if (arg === '-') {
    if (process.stdin.isTTY) throw new ParseInputError('kfault parse -: stdin is a terminal; pipe a log in (dmesg | kfault parse -), or name a file');
    return { text: readFileSync(0, 'utf8'), source: '(stdin)' };
  }
  try {
    return { text: readFileSync(arg, 'utf8'), source: arg };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ParseInputError(`kfault parse: ${arg}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a directory, not a log file' : (e as Error).message}; ${USAGE}`);
  }
}

const who = (r: { pid: number | null; comm: string | null; step: number | null }) =>
  r.pid === null ? '' : `, pid ${r.pid} ${r.comm}${r.step !== null ? ` (kfault step nth=${r.step})` : ''}`;

function siteText(f: LogFault['site']): string {
  return `${f.injector} at ${f.callSite ?? '?'}${f.caller ? ` <- ${f.caller}` : ''}${f.inKmemleak ? ' [kmemleak]' : ''}`;
}

function problemText(p: LogProblem): string[] {
  return [
    `${p.kind} (line ${p.line}${who(p)}): ${p.headline}`,
    ...(p.at ? [`  at ${p.at}`] : []),
    ...(p.fault ? [`  injected fault before it: ${siteText(p.fault)}`] : []),
    ...(p.panic ? [`  then: ${p.panic}`] : []),
    ...(p.truncated ? ['  TRUNCATED: the log ends inside this report'] : []),
    ...p.log.map((l) => `  | ${l}`),
  ];
}

function faultText(f: LogFault): string[] {
  const stack = f.site.frames.slice(f.site.callSite ? f.site.frames.indexOf(f.site.callSite) : 0);
  return [`fault injection (line ${f.line}${who(f)}): ${siteText(f.site)}${f.announced ? '' : ' (stack dump only: the "forcing a failure" line was not on this console)'}`, `  stack: ${stack.join(' <- ')}`];
}

function leakText(l: Leak): string {
  const at = l.frames.findIndex((f) => !isAllocatorFrame(f.replace(/(\.(?:isra|constprop|part|cold|lto_priv)\.\d+)*\+.*/, '')));
  const step = stepOfComm(l.comm);
  return `kmemleak: unreferenced object ${l.address} (${l.size} bytes), comm "${l.comm}" pid ${l.pid}${step !== null ? ` (kfault step nth=${step})` : ''}, allocated at ${l.frames.slice(Math.max(0, at)).join(' <- ') || '?'}`;
}

const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function parsedText(p: ParsedLog): string {
  const kinds = [...new Set(p.problems.map((x) => x.kind))].map((k) => `${p.problems.filter((x) => x.kind === k).length} ${k}`);
  return [
    `${p.source}: ${p.lines} lines (${p.formats.join(', ') || 'empty'}): ${count(p.problems.length, 'problem')}${kinds.length ? ` (${kinds.join(', ')})` : ''}, ${count(p.faults.length, 'fault-injection trace')}, ${count(p.leaks.length, 'kmemleak record')}`,
    ...p.problems.flatMap(problemText),
    ...p.faults.flatMap(faultText),
    ...p.leaks.map(leakText),
    ...p.kmemleak.map((l) => `kmemleak said: ${l.replace(/^kmemleak: /, '')}`),
  ].join('\n');
}

/** Exit 1 when the log has a problem or a leak (as a sweep does), 0 when clean. */
export function parseCommand(files: string[], json: boolean): number {
  try {
    if (files.length !== 1) throw new ParseInputError(`kfault parse: ${files.length ? `${files.length} files` : 'no file'}; ${USAGE}`);
    const { text, source } = readInput(files[0]!);
    const parsed = parseLog(text, source);
    const wrong = notAKernelLog(parsed, text);
    if (wrong) throw new ParseInputError(`kfault parse: ${source} does not look like a kernel log: ${wrong}; ${USAGE}`);
    console.log(json ? JSON.stringify(parsed, null, 2) : parsedText(parsed));
    return parsed.problems.length || parsed.leaks.length ? 1 : 0;
  } catch (e) {
    if (!(e instanceof ParseInputError)) throw e;
    process.stderr.write(`${e.message}\n`);
    return 2;
  }
}
