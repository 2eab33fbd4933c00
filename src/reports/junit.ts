// JUnit XML: a testsuite per harness, a testcase per failure point; a leak, oops, warning or hang
// is a <failure> with the kernel's own words. CI systems read it as they read any test report.
import type { ResultsFile } from '../results-file.js';
import { excerpt, failurePoints, harnessProblems } from './points.js';

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
    for (const p of failurePoints(r)) add(p.name, p.seconds, p.problems.map((x) => ({ type: x.kind, message: x.text, body: excerpt(r, p, x) })));
    const outside = harnessProblems(r);
    if (outside.length) add('setup/teardown', 0, outside.map((x) => ({ type: x.kind, message: x.text, body: excerpt(r, null, x) })));
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
