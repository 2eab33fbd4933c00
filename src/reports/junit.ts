// JUnit XML: a testsuite per harness, a testcase per failure point that went right, and one per
// distinct problem of the harness (a leak, oops, warning or hang, grouped by signature: see
// groups.ts), whose <failure> says where it was hit and has the kernel's own words. CI systems
// read it as they read any test report.
import type { ResultsFile } from '../results-file.js';
import { groupExcerpt, reportItems } from './points.js';

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!).replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '');
const cdata = (s: string) => `<![CDATA[${s.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;

export function junit(file: ResultsFile): string {
  const suites: string[] = [];
  let tests = 0;
  let failures = 0;
  for (const r of file.results) {
    const cases: string[] = [];
    const add = (name: string, seconds: number, fails: Array<{ type: string; message: string; body: string }>) => {
      tests++;
      failures += fails.length ? 1 : 0;
      const f = fails.map((x) => `      <failure type="${esc(x.type)}" message="${esc(x.message)}">${cdata(x.body)}</failure>`);
      cases.push(
        f.length
          ? [`    <testcase classname="kfault.${esc(r.harness)}" name="${esc(name)}" time="${seconds.toFixed(6)}">`, ...f, '    </testcase>'].join('\n')
          : `    <testcase classname="kfault.${esc(r.harness)}" name="${esc(name)}" time="${seconds.toFixed(6)}"/>`,
      );
    };
    const names = new Map<string, number>();
    for (const item of reportItems(r)) {
      if (item.type === 'point') {
        add(item.point.name, item.point.seconds, []);
        continue;
      }
      const g = item.group;
      // two groups of one title (one leak site, two stacks) are two testcases all the same
      const n = (names.get(g.title) ?? 0) + 1;
      names.set(g.title, n);
      const message = `${g.kind} at ${g.nths.length ? `nth=${g.range}` : 'setup/teardown'} (count ${g.count}): ${item.problem.text}`;
      add(n > 1 ? `${g.title} #${n}` : g.title, (item.first?.seconds ?? 0), [{ type: g.kind, message, body: groupExcerpt(item) }]);
    }
    const n = cases.length;
    const failed = cases.filter((c) => c.includes('<failure')).length;
    suites.push(
      [
        `  <testsuite name="${esc(r.harness)}" tests="${n}" failures="${failed}" errors="0" skipped="0" time="${(r.ms / 1000).toFixed(3)}">`,
        `    <properties><property name="kernel" value="${esc(file.kernel)}"/><property name="accel" value="${esc(file.accel)}"/><property name="complete" value="${r.complete}"/></properties>`,
        ...cases,
        '  </testsuite>',
      ].join('\n'),
    );
  }
  if (file.kmemleak && !file.kmemleak.enabled) {
    tests++;
    failures++;
    suites.push(
      [
        '  <testsuite name="kmemleak" tests="1" failures="1" errors="0" skipped="0" time="0">',
        '    <testcase classname="kfault.kmemleak" name="leak check">',
        `      <failure type="kmemleak" message="kmemleak is not working, so leaks were not checked">${cdata(file.kmemleak.why ?? '')}</failure>`,
        '    </testcase>',
        '  </testsuite>',
      ].join('\n'),
    );
  }
  const time = file.results.reduce((s, r) => s + r.ms, 0) / 1000;
  return ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites name="kfault" tests="${tests}" failures="${failures}" errors="0" time="${time.toFixed(3)}">`, ...suites, '</testsuites>', ''].join('\n');
}
