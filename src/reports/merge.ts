// `kfault report --merge`: the results of several shards (CI jobs) as one.
import type { ResultsFile } from '../results-file.js';
import { groupProblems } from './groups.js';
import { resultsProblems } from '../repro/problems.js';

export class MergeError extends Error {}

export function mergeResults(files: Array<{ path: string; file: ResultsFile }>): ResultsFile {
  const [first, ...rest] = files;
  if (!first) throw new MergeError('nothing to merge');
  for (const { path, file } of rest) {
    if (file.kernel !== first.file.kernel) throw new MergeError(`${path}: kernel ${file.kernel}, but ${first.path} has ${first.file.kernel}: shards of one run share a kernel`);
  }
  const seen = new Map<string, string>();
  for (const { path, file } of files) {
    for (const r of file.results) {
      const prev = seen.get(r.harness);
      if (prev) throw new MergeError(`${path}: harness ${r.harness} is also in ${prev}; shards must not overlap`);
      seen.set(r.harness, path);
    }
  }
  const checks = files.map((f) => f.file.kmemleak);
  const kmemleak = checks.every((k) => k === null)
    ? null
    : {
        enabled: checks.every((k) => k === null || k.enabled),
        why: checks.map((k) => k?.why).filter(Boolean).join('; ') || null,
        unattributed: checks.flatMap((k) => k?.unattributed ?? []),
        suppressed: checks.reduce((n, k) => n + (k?.suppressed ?? 0), 0),
        raw: checks.map((k) => k?.raw ?? '').filter(Boolean).join('\n'),
      };
  const results = files.flatMap((f) => f.file.results);
  return {
    schema: first.file.schema,
    kernel: first.file.kernel,
    accel: [...new Set(files.map((f) => f.file.accel))].join('+'),
    results,
    kmemleak,
    restarts: files.reduce((n, f) => n + f.file.restarts, 0),
    groups: groupProblems(files.flatMap((f) => f.file.results)),
    kfault: [...new Set(files.map((f) => f.file.kfault))].join('+'),
    modules: files.flatMap((f) => f.file.modules).filter((m, i, all) => all.findIndex((x) => x.path === m.path) === i),
    problems: resultsProblems(results),
  };
}
