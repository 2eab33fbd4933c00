// KTAP, the kernel's own test output format (Documentation/dev-tools/ktap.rst): a subtest per
// harness, a test per failure point that went right and one per distinct problem (groups.ts),
// "not ok" with where it was hit and the kernel's words as diagnostics.
import type { ResultsFile } from '../results-file.js';
import { groupExcerpt, reportItems } from './points.js';

const oneLine = (s: string) => s.replace(/[\r\n#]+/g, ' ').trim();

export function ktap(file: ResultsFile): string {
  const out = ['KTAP version 1', `# kfault: kernel ${file.kernel} (${file.accel})`, `1..${file.results.length + (file.kmemleak && !file.kmemleak.enabled ? 1 : 0)}`];
  file.results.forEach((r, i) => {
    const items = reportItems(r);
    out.push('    KTAP version 1', `    # Subtest: ${oneLine(r.harness)}`, `    1..${items.length}`);
    let bad = 0;
    items.forEach((item, j) => {
      if (item.type === 'point') {
        out.push(`    ok ${j + 1} ${oneLine(item.point.name)}`);
        return;
      }
      bad++;
      const g = item.group;
      out.push(`    not ok ${j + 1} ${oneLine(g.title)} # ${g.kind} at ${g.nths.length ? `nth=${g.range}` : 'setup/teardown'} (count ${g.count}): ${oneLine(item.problem.text)}`);
      for (const l of groupExcerpt(item).split('\n')) out.push(`    # ${l}`);
    });
    out.push(`${bad ? 'not ok' : 'ok'} ${i + 1} ${oneLine(r.harness)}`);
  });
  if (file.kmemleak && !file.kmemleak.enabled) out.push(`not ok ${file.results.length + 1} kmemleak # ${oneLine(file.kmemleak.why ?? '')}`);
  return out.join('\n') + '\n';
}
