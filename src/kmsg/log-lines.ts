// A saved kernel log, from any machine, as message lines without their prefixes:
//   dmesg        [    1.234567] msg   (also [T123] caller ids, dmesg -T dates, dmesg -r's <6>)
//   /dev/kmsg    6,1234,5678901,-;msg  (\xHH escapes, " KEY=value" dictionary lines dropped)
//   syslog       Dec  1 12:00:00 host kernel: [    1.234] msg   (journalctl -k, /var/log/kern.log)
//   plain        a serial console without timestamps, a kmemleak report, kfault's own lines
import { z } from 'zod';

export const LineFormat = z.enum(['dmesg', 'kmsg', 'syslog', 'plain']);
export type LineFormat = z.infer<typeof LineFormat>;

export interface LogLine {
  /** 1-based line number in the file */
  n: number;
  /** the message without timestamp or record prefix */
  text: string;
  /** the timestamp, when the line had one: tells a message from its replay (panic_print) */
  stamp: string | null;
  format: LineFormat;
}

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;
const LEVEL = /^<\d+>/;
const CALLER = /^\[\s*[TC]\d+\]\s?/;
const DMESG = /^\[\s*(\d+\.\d+)\]\s?/;
const DMESG_DATE = /^\[((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) [^\]]+)\]\s?/;
const KMSG = /^(\d+),(\d+),(\d+),[^;]*;(.*)$/;
const SYSLOG = /^(?:\w{3} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+) \S+ kernel: (.*)$/;

/** /dev/kmsg escapes every byte that is not printable (and the backslash) as \xHH. */
function unescapeKmsg(s: string): string {
  return s.replace(/\\x([0-9a-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

function withoutStamp(s: string): { text: string; stamp: string | null } {
  const t = s.replace(CALLER, '');
  const m = DMESG.exec(t) ?? DMESG_DATE.exec(t);
  if (!m) return { text: t, stamp: null };
  return { text: t.slice(m[0].length).replace(CALLER, ''), stamp: m[1]! };
}

export function logLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').replace(ANSI, '').replace(LEVEL, '');
    const n = i + 1;
    const kmsg = KMSG.exec(line);
    if (kmsg) {
      const stamp = (Number(kmsg[3]) / 1e6).toFixed(6);
      for (const part of unescapeKmsg(kmsg[4]!).split('\n')) out.push({ n, text: part, stamp, format: 'kmsg' });
      return;
    }
    // a /dev/kmsg record's dictionary ("SUBSYSTEM=pci"), after its message line
    if (/^ [A-Z_]+=/.test(line) && out.at(-1)?.format === 'kmsg') return;
    const sys = SYSLOG.exec(line);
    if (sys) {
      const { text: msg, stamp } = withoutStamp(sys[1]!);
      out.push({ n, text: msg, stamp, format: 'syslog' });
      return;
    }
    const { text: msg, stamp } = withoutStamp(line);
    out.push({ n, text: msg, stamp, format: stamp === null ? 'plain' : 'dmesg' });
  });
  return out;
}
