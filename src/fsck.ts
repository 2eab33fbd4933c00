// What e2fsck -fn said of a scratch disk after a step (native/fsck.c runs it): damage, or not,
// in fsck's own words. Damage is what e2fsck found wrong in the filesystem's metadata after the
// kernel had replayed the journal: exit status 4 (errors left uncorrected, as -n leaves them all),
// or exit status 8 with a superblock it cannot read as one. The kernel's error flag alone
// (s_state ERROR_FS, "EXT4-fs error" in the log) is not damage: e2fsck -fn exits 0 on such a
// filesystem and says nothing of it; the check records the flag (errorState) all the same.
import type { FsckCheck } from './protocol.js';

/** e2fsck's exit status bits (e2fsck(8)). */
const UNCORRECTED = 4;
const OPERATIONAL = 8;

/** An unreadable superblock is damage; an e2fsck that could not open the device is not. */
const NO_SUPERBLOCK = /Bad magic number in super-block|Superblock invalid|couldn't find valid filesystem superblock|The superblock could not be read/;

/** e2fsck's lines that are not findings: its banner, the pass names, its summary, the answers -n gives. */
const NOT_FINDINGS = [
  /^e2fsck \d[\w.-]* \(/,
  /^Pass \d\w*: /,
  /^\S+: \d+\/\d+ files \([\d.]+% non-contiguous\), \d+\/\d+ blocks$/,
  /^IGNORED\.$/,
  /^\S+: \*+ WARNING: Filesystem still has errors \*+$/,
  /^$/,
];

const LINE_MAX = 160;
const LINES_MAX = 12;

/** The lines of e2fsck's output that say what is wrong, each cut to a readable length. */
export function fsckFindings(output: string): string[] {
  const lines = output
    .split('\n')
    // the answer -n gives, after the finding on the same line or on a line of its own
    .map((l) => l.trim().replace(/(^|[.!:]\s+)[^.!:?]*\? no$/, '$1').trim())
    .filter((l) => !NOT_FINDINGS.some((re) => re.test(l)));
  const cut = lines.map((l) => (l.length > LINE_MAX ? `${l.slice(0, LINE_MAX - 3)}...` : l));
  return cut.length > LINES_MAX ? [...cut.slice(0, LINES_MAX), `(${cut.length - LINES_MAX} more lines)`] : cut;
}

/** The check found the filesystem damaged. */
export function isCorrupted(c: Pick<FsckCheck, 'ran' | 'status' | 'output'>): boolean {
  if (!c.ran) return false;
  if (c.status & UNCORRECTED) return true;
  return (c.status & OPERATIONAL) !== 0 && NO_SUPERBLOCK.test(c.output);
}

/** "e2fsck -fn /dev/vda: exit 4: Free blocks count wrong for group #0 (3808, counted=2812)." */
export function corruptionText(c: FsckCheck): string {
  const found = fsckFindings(c.output);
  const head = found[0] ?? '(no finding printed)';
  const first = (head.length > 80 ? `${head.slice(0, 77)}...` : head) + (found.length > 1 ? ` (and ${found.length - 1} more)` : '');
  const replay = c.replayed ? (c.replayErrno ? `; the kernel could not mount it to replay its journal (${c.replayErrno})` : '; after the kernel replayed its journal') : '';
  return `e2fsck -fn ${c.device}: exit ${c.status}${replay}: ${first}`;
}

/** How a check ended, in a few words, for the table and the summary. */
export function checkState(c: FsckCheck): 'corrupted' | 'clean' | 'not checked' {
  if (!c.ran) return 'not checked';
  return isCorrupted(c) ? 'corrupted' : c.status === 0 ? 'clean' : 'not checked';
}

/** "fsck: e2fsck -fn after 37 steps: 36 clean, 1 corrupted; journal replayed before 2; error flag set in 1; 412 ms per check" */
export function fsckSummary(steps: Array<{ fsck?: FsckCheck[] | null | undefined }>): string | null {
  const checks = steps.flatMap((s) => s.fsck ?? []);
  if (!checks.length) return null;
  const checked = steps.filter((s) => s.fsck?.length).length;
  const n = (state: ReturnType<typeof checkState>) => checks.filter((c) => checkState(c) === state).length;
  const extra = [
    ...(n('not checked') ? [`${n('not checked')} not checked (${[...new Set(checks.filter((c) => checkState(c) === 'not checked').map((c) => c.note || `exit ${c.status}`))].slice(0, 2).join('; ')})`] : []),
    ...(checks.some((c) => c.replayed) ? [`journal replayed by the kernel before ${checks.filter((c) => c.replayed).length}`] : []),
    ...(checks.some((c) => c.errorState) ? [`the kernel's error flag (ERROR_FS) set in ${checks.filter((c) => c.errorState).length}, without damage in ${checks.filter((c) => c.errorState && !isCorrupted(c)).length}`] : []),
    ...(checks.some((c) => c.repaired) ? [`repaired with e2fsck -fy after ${checks.filter((c) => c.repaired).length}`] : []),
  ];
  const ms = checks.reduce((t, c) => t + c.ns, 0) / 1e6 / checks.length;
  return `fsck: e2fsck -fn after ${checked} step${checked === 1 ? '' : 's'}: ${n('clean')} clean, ${n('corrupted')} corrupted${extra.map((e) => `; ${e}`).join('')}; ${Math.round(ms)} ms per check`;
}
