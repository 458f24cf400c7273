// Half-open time spans [start, end) in seconds and the set operations DER scoring needs on sorted span lists.
// Provenance: pyannote.core Timeline.support / extrude, reduced to what md-eval's UEM handling does.

export interface Span {
  start: number;
  end: number;
}

/** The union of `spans` as a sorted list of disjoint spans; empty spans are dropped, touching ones merged. */
export function unionSpans(spans: readonly Span[]): Span[] {
  const sorted = spans.filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  const out: Span[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else out.push({ start: s.start, end: s.end });
  }
  return out;
}

/** `a` minus `b`; both are taken as unions (any order, overlaps allowed). */
export function subtractSpans(a: readonly Span[], b: readonly Span[]): Span[] {
  const cut = unionSpans(b);
  const out: Span[] = [];
  for (const s of unionSpans(a)) {
    let start = s.start;
    for (const c of cut) {
      if (c.end <= start) continue;
      if (c.start >= s.end) break;
      if (c.start > start) out.push({ start, end: c.start });
      start = Math.max(start, c.end);
      if (start >= s.end) break;
    }
    if (start < s.end) out.push({ start, end: s.end });
  }
  return out;
}

/** `a` intersected with `b` (both taken as unions). */
export function intersectSpans(a: readonly Span[], b: readonly Span[]): Span[] {
  const x = unionSpans(a);
  const y = unionSpans(b);
  const out: Span[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    const start = Math.max(x[i]!.start, y[j]!.start);
    const end = Math.min(x[i]!.end, y[j]!.end);
    if (end > start) out.push({ start, end });
    if (x[i]!.end < y[j]!.end) i++;
    else j++;
  }
  return out;
}

export function totalLength(spans: readonly Span[]): number {
  return spans.reduce((a, s) => a + (s.end - s.start), 0);
}

/** Walks a sorted disjoint span list forward in time: is time t (non-decreasing across calls) inside a span? */
export class SpanCursor {
  private i = 0;
  constructor(private readonly spans: readonly Span[]) {}
  contains(t: number): boolean {
    while (this.i < this.spans.length && this.spans[this.i]!.end <= t) this.i++;
    const s = this.spans[this.i];
    return s !== undefined && s.start <= t;
  }
}
