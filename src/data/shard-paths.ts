// Tarred-dataset shard lists: Python braceexpand's syntax (as NeMo calls it, escape=False) and NeMo's brace spellings,
// then the shards this rank reads. Own code: braceexpand has no maintained npm twin with the same semantics (numeric
// ranges keep zero padding, {a..e} letter ranges, {1..9..2} steps, nesting, and an unmatched brace stays literal).
// Provenance: nemo.collections.asr.data.audio_to_text.expand_sharded_filepaths and braceexpand.braceexpand.

export type ShardStrategy = 'scatter' | 'replicate';

/** Bound on one pattern's expansion (a typo such as {0..99999999} must fail, not fill memory). */
export const MAX_EXPANDED = 1_000_000;

/** NeMo's alternative brace spellings for shells that mangle braces: ( [ < _OP_ open, ) ] > _CL_ close. */
export function normaliseBraces(spec: string): string {
  let s = spec;
  for (const k of ['(', '[', '<', '_OP_']) s = s.split(k).join('{');
  for (const k of [')', ']', '>', '_CL_']) s = s.split(k).join('}');
  return s;
}

/** Index of the brace closing the one at `open`, or -1. */
function closing(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '{') depth++;
    else if (s[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

/** Splits a brace body at its top-level commas. */
function topLevelParts(body: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '{') depth++;
    else if (body[i] === '}') depth--;
    else if (body[i] === ',' && depth === 0) {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(body.slice(start));
  return parts;
}

/** A {a..b[..step]} range (numbers, zero-padded to the wider bound, or single letters), or null. */
function range(body: string): string[] | null {
  const num = /^(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?$/.exec(body);
  const chr = /^([A-Za-z])\.\.([A-Za-z])(?:\.\.(-?\d+))?$/.exec(body);
  if (!num && !chr) return null;
  const m = (num ?? chr)!;
  const step = Math.abs(Number(m[3] ?? 1)) || 1;
  const lo = num ? Number(m[1]) : m[1]!.charCodeAt(0);
  const hi = num ? Number(m[2]) : m[2]!.charCodeAt(0);
  const count = Math.floor(Math.abs(hi - lo) / step) + 1;
  if (count > MAX_EXPANDED) throw new Error(`brace range {${body}} expands to ${count} names (more than ${MAX_EXPANDED})`);
  const width = num && (/^-?0\d/.test(m[1]!) || /^-?0\d/.test(m[2]!)) ? Math.max(m[1]!.length, m[2]!.length) : 0;
  const out: string[] = [];
  const dir = hi >= lo ? 1 : -1;
  for (let k = 0, v = lo; k < count; k++, v += dir * step) {
    if (!num) out.push(String.fromCharCode(v));
    else out.push(v < 0 ? `-${String(-v).padStart(width - 1, '0')}` : String(v).padStart(width, '0'));
  }
  return out;
}

/** Python braceexpand (escape=False): every name the pattern stands for, in order. */
export function braceExpand(pattern: string): string[] {
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] !== '{') continue;
    const j = closing(pattern, i);
    if (j < 0) return [pattern]; // an unmatched brace is literal text
    const body = pattern.slice(i + 1, j);
    const head = pattern.slice(0, i);
    const tails = braceExpand(pattern.slice(j + 1));
    const parts = range(body);
    let alternatives: string[];
    if (parts) alternatives = parts;
    else {
      const split = topLevelParts(body);
      // "{x}" with no top-level comma or range keeps its braces (what is inside still expands)
      alternatives = split.length < 2 ? braceExpand(body).map((b) => `{${b}}`) : split.flatMap((p) => braceExpand(p));
    }
    const out: string[] = [];
    for (const a of alternatives) {
      for (const t of tails) {
        out.push(head + a + t);
        if (out.length > MAX_EXPANDED) throw new Error(`'${pattern}' expands to more than ${MAX_EXPANDED} names`);
      }
    }
    return out;
  }
  return [pattern];
}

/**
 * NeMo's expand_sharded_filepaths: a string is brace-expanded (after the alternative spellings), a list is taken as is;
 * with several ranks, `scatter` gives rank r the r-th of world equal slices (the remainder of an uneven split is left
 * out, with a warning) and `replicate` gives every rank every shard.
 */
export function expandShardedFilepaths(
  spec: string | readonly string[],
  strategy: ShardStrategy,
  world: number,
  rank: number,
  warn: (m: string) => void = () => undefined,
): string[] {
  const all = typeof spec === 'string' ? braceExpand(normaliseBraces(spec)) : [...spec];
  if (world <= 1 || strategy === 'replicate') return all;
  if (all.length % world !== 0) {
    warn(`the ${all.length} tarred shards do not split evenly over ${world} ranks: the last ${all.length % world} are read by none (NeMo's scatter)`);
  }
  const per = Math.floor(all.length / world);
  return all.slice(per * rank, per * rank + per);
}
