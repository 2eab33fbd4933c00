// The failure points of a sweep as report formats list them: each injected step and each step
// that crashed, with its problems; plus problems of the harness's setup/teardown.
import { problems, type Problem } from '../report.js';
import { fsckFindings, isCorrupted } from '../fsck.js';
import type { Crash, Step, SweepResult } from '../protocol.js';
import { byNth, groupProblems, groupWhere, leakSignature, sitesText, type ProblemGroup } from './groups.js';

export interface FailurePoint {
  nth: number;
  /** "nth=3 ENOMEM kfault_test_alloc+0xe <- leaky" */
  name: string;
  seconds: number;
  problems: Problem[];
  step?: Step;
  crash?: Crash;
}

function where(s: Step | undefined, c: Crash | undefined): string {
  if (c) return c.at ?? '?';
  if (!s?.fault) return s?.injected ? '(no trace)' : '';
  return [s.fault.callSite ?? '?', s.fault.caller].filter(Boolean).join(' <- ');
}

export function failurePoints(r: SweepResult): FailurePoint[] {
  const all = problems(r);
  const nths = [...new Set([...r.steps.filter((s) => s.injected || s.signal).map((s) => s.nth), ...r.crashes.map((c) => c.nth)])].sort((a, b) => a - b);
  return nths.map((nth) => {
    const step = r.steps.find((s) => s.nth === nth);
    const crash = r.crashes.find((c) => c.nth === nth);
    const errno = crash || step?.signal ? 'crashed' : (step?.errno ?? 'ok');
    return { nth, name: `nth=${nth} ${errno} ${where(step, crash)}`.trimEnd(), seconds: (step?.ns ?? 0) / 1e9, problems: all.filter((p) => p.nth === nth), step, crash };
  });
}

/** Problems outside any step (the harness's setup or teardown leaked). */
export function harnessProblems(r: SweepResult): Problem[] {
  return problems(r).filter((p) => p.nth === null);
}

/** The kernel's own words for a problem at a failure point: the crash report, the logged
 * warning or BUG with its trace, or the leak as kmemleak printed its fields. */
export function excerpt(r: SweepResult, p: FailurePoint | null, problem: Problem): string {
  if (problem.kind === 'leak') {
    return r.leaks
      .filter((l) => l.nth === (p?.nth ?? null))
      .map(({ leak }) => [`unreferenced object ${leak.address} (size ${leak.size}):`, `  comm "${leak.comm}", pid ${leak.pid}, jiffies ${leak.jiffies}`, `  backtrace (crc ${leak.crc ?? '?'}):`, ...leak.frames.map((f) => `    ${f}`)].join('\n'))
      .join('\n');
  }
  if (problem.kind === 'corrupted') {
    return (p?.step?.fsck ?? [])
      .filter(isCorrupted)
      .map((c) => [`e2fsck -fn ${c.device}: exit ${c.status}${c.replayed ? ' (after the kernel replayed the journal)' : ''}${c.note ? `; ${c.note}` : ''}`, ...fsckFindings(c.output).map((l) => `  ${l}`)].join('\n'))
      .join('\n');
  }
  if (p?.crash) return p.crash.log.join('\n');
  const lines = (p?.step?.kmsg ?? '').split('\n');
  const start = lines.findIndex((l) => l.startsWith(problem.text));
  if (start < 0) return problem.text;
  const end = lines.findIndex((l, i) => i > start && /^---\[ end trace/.test(l));
  return lines.slice(start, end < 0 ? start + 40 : end + 1).join('\n');
}

/** What a report lists for a harness: a failure point that went right, or a bug. */
export type ReportItem =
  | { type: 'point'; point: FailurePoint }
  | {
      type: 'group';
      group: ProblemGroup;
      /** the group's first hit in this harness, and its problem, for the kernel's words */
      first: FailurePoint | null;
      problem: Problem;
      /** the result with only this group's leaks, for excerpt() */
      result: SweepResult;
    };

/** A harness's entries in a report: each failure point without a problem, and each distinct
 * problem (group) of this harness once, at its first nth (setup/teardown ones last). */
export function reportItems(r: SweepResult): ReportItem[] {
  const points = failurePoints(r);
  const items: Array<{ at: number | null; item: ReportItem }> = points.filter((p) => !p.problems.length).map((p) => ({ at: p.nth, item: { type: 'point', point: p } }));
  for (const group of groupProblems(r)) {
    const hit = group.occurrences.find((o) => o.nth === group.firstNth) ?? group.occurrences[0]!;
    const first = points.find((p) => p.nth === hit.nth) ?? null;
    const problem = group.kind === 'leak' ? { nth: hit.nth, kind: group.kind, text: hit.text } : problems(r).find((p) => p.nth === hit.nth && p.kind === group.kind && p.text === hit.text)!;
    const result = { ...r, leaks: r.leaks.filter((l) => leakSignature(l.leak) === group.signature) };
    items.push({ at: hit.nth, item: { type: 'group', group, first, problem, result } });
  }
  return items.sort((a, b) => byNth(a.at, b.at)).map((x) => x.item);
}

/** A group's report text: where it was hit, its fault sites, then the first hit's kernel log. */
export function groupExcerpt(item: Extract<ReportItem, { type: 'group' }>): string {
  const g = item.group;
  return [
    `${g.title}: ${g.kind}, count ${g.count}: ${groupWhere(g)}`,
    `fault sites: ${sitesText(g)}`,
    '',
    excerpt(item.result, item.first, item.problem),
  ].join('\n');
}
