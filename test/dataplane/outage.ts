// What the client saw, reduced to the figures users judge floatip by (pure): the longest gap
// between UDP replies that came from the address the client sent to, the datagrams that got
// no such reply, the TCP connects that failed, and replies from any other address (a client
// drops those: they are lost too).

export interface UdpSend {
  readonly seq: number;
  readonly t: number;
}
export interface UdpReply {
  readonly seq: number;
  readonly t: number;
  readonly from: string;
  readonly pod?: string;
  readonly saw?: string;
}
export interface TcpAttempt {
  readonly t: number;
  readonly ok: boolean;
  readonly ms: number;
  readonly pod?: string;
  readonly saw?: string;
  readonly err?: string;
}
export interface ProbeRecord {
  readonly sends: readonly UdpSend[];
  readonly replies: readonly UdpReply[];
  readonly tcp: readonly TcpAttempt[];
}

export interface Outage {
  /** longest time without a good UDP reply, from the last one before `from` (or `from`) to the first after it */
  readonly longestGapMs: number;
  readonly gapStart: number;
  readonly gapEnd: number;
  /** the longest gap runs to the end of the window: no good reply came back after it */
  readonly unresolved: boolean;
  readonly sent: number;
  /** datagrams sent in the window (but not in the last `inFlightMs`) without a good reply */
  readonly lost: number;
  readonly tcpAttempts: number;
  readonly tcpFailures: number;
  readonly wrongSource: number;
  /** the first good reply after the gap: which pod answered */
  readonly after: UdpReply | undefined;
}

export function outage(record: ProbeRecord, opts: { from: number; to: number; expectFrom: string; inFlightMs?: number }): Outage {
  const { from, to, expectFrom } = opts;
  const inFlightMs = opts.inFlightMs ?? 500;
  const good = record.replies.filter((r) => r.from === expectFrom).sort((a, b) => a.t - b.t);
  const before = good.filter((r) => r.t <= from).at(-1);
  const within = good.filter((r) => r.t > from && r.t <= to);
  let longest = 0;
  let gapStart = before?.t ?? from;
  let gapEnd = within[0]?.t ?? to;
  let previous = before?.t ?? from;
  let after: UdpReply | undefined;
  for (const r of within) {
    if (r.t - previous > longest) {
      longest = r.t - previous;
      gapStart = previous;
      gapEnd = r.t;
      after = r;
    }
    previous = r.t;
  }
  // silence up to the end of the window: the service had not come back (yet)
  const unresolved = to - previous > longest;
  if (unresolved) {
    longest = to - previous;
    gapStart = previous;
    gapEnd = to;
    after = undefined;
  }
  const answered = new Set(good.map((r) => r.seq));
  const counted = record.sends.filter((s) => s.t >= from && s.t <= to - inFlightMs);
  const tcp = record.tcp.filter((a) => a.t >= from && a.t <= to - inFlightMs);
  return {
    longestGapMs: longest,
    gapStart,
    gapEnd,
    unresolved,
    sent: counted.length,
    lost: counted.filter((s) => !answered.has(s.seq)).length,
    tcpAttempts: tcp.length,
    tcpFailures: tcp.filter((a) => !a.ok).length,
    wrongSource: record.replies.filter((r) => r.from !== expectFrom && r.t >= from && r.t <= to).length,
    after,
  };
}
