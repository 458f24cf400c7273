// Levenshtein distance and "did you mean" suggestions for mistyped keys and enum values.

export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** Largest distance still treated as a plausible typo of a word of this length. */
function tolerance(word: string): number {
  return Math.max(2, Math.floor(word.length / 3));
}

/** The candidate closest to `word`, or undefined when none is plausibly a typo of it. */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= tolerance(word) ? best : undefined;
}

function lastSegment(path: string): string {
  return path.slice(path.lastIndexOf('.') + 1);
}

function closestOf(wanted: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const p of candidates) {
    const d = editDistance(wanted, p);
    if (d < bestDistance) {
      best = p;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * Suggests an existing dotted key path for a mistyped one: a one-letter slip of the whole path
 * (`model.encodr.d_model` → `model.encoder.d_model`); else a path ending in the same key
 * (`model.d_model` → `model.encoder.d_model`, the closest such path overall); else a near miss of
 * the whole path; else a path whose last key nearly matches.
 */
export function suggestPath(wanted: string, existing: readonly string[]): string | undefined {
  const whole = closestMatch(wanted, existing);
  if (whole !== undefined && editDistance(wanted, whole) <= 1) return whole;
  const leaf = lastSegment(wanted);
  const sameLeaf = existing.filter((p) => lastSegment(p) === leaf);
  if (sameLeaf.length > 0) return closestOf(wanted, sameLeaf);
  if (whole !== undefined) return whole;
  const nearLeaf = existing.filter((p) => editDistance(lastSegment(p), leaf) <= Math.max(1, Math.floor(leaf.length / 4)));
  return closestOf(wanted, nearLeaf);
}
