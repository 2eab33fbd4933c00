// KTAP, the kernel's own test output format (Documentation/dev-tools/ktap.rst): a subtest per
// harness, a test per failure point; problems as "not ok" with the kernel's words as diagnostics.
import type { ResultsFile } from '../results-file.js';
import { excerpt, failurePoints, harnessProblems } from './points.js';

const oneLine = (s: string) => s.replace(/[\r\n#]+/g, ' ').trim();

export function ktap(file: ResultsFile): string {
  const out = ['KTAP version 1', `# kfault: kernel ${file.kernel} (${file.accel})`, `1..${file.results.length + (file.kmemleak && !file.kmemleak.enabled ? 1 : 0)}`];
  file.results.forEach((r, i) => {
    const points = failurePoints(r);
    const outside = harnessProblems(r);
    const total = points.length + (outside.length ? 1 : 0);
    out.push('    KTAP version 1', `    # Subtest: ${oneLine(r.harness)}`, `    1..${total}`);
    let bad = 0;
    points.forEach((p, j) => {
      if (p.problems.length) bad++;
      out.push(`    ${p.problems.length ? 'not ok' : 'ok'} ${j + 1} ${oneLine(p.name)}${p.problems.length ? ` # ${p.problems.map((x) => `${x.kind}: ${oneLine(x.text)}`).join('; ')}` : ''}`);
      for (const x of p.problems) for (const l of excerpt(r, p, x).split('\n')) out.push(`    # ${l}`);
    });
    if (outside.length) {
      bad++;
      out.push(`    not ok ${total} setup/teardown # ${outside.map((x) => `${x.kind}: ${oneLine(x.text)}`).join('; ')}`);
    }
    out.push(`${bad ? 'not ok' : 'ok'} ${i + 1} ${oneLine(r.harness)}`);
  });
  if (file.kmemleak && !file.kmemleak.enabled) out.push(`not ok ${file.results.length + 1} kmemleak # ${oneLine(file.kmemleak.why ?? '')}`);
  return out.join('\n') + '\n';
}
