// The optimal one-to-one mapping of reference to hypothesis speakers: the assignment that maximises the total time
// they speak together (md-eval-22.pl map_speakers / weighted_bipartite_graph_match; pyannote.metrics
// HungarianMapper). The Hungarian algorithm comes from the `munkres` package (no dependencies, rectangular matrices).
import { munkres } from 'munkres';

/** overlap[r][h] = seconds during which reference speaker r and hypothesis speaker h both speak (r x h, any shape). */
export type OverlapMatrix = readonly (readonly number[])[];

/** For each reference speaker index, the hypothesis speaker index it maps to, or -1 (more reference than hypothesis speakers). */
export function optimalSpeakerMapping(overlap: OverlapMatrix, hypSpeakers: number): number[] {
  const refSpeakers = overlap.length;
  const map = new Array<number>(refSpeakers).fill(-1);
  if (refSpeakers === 0 || hypSpeakers === 0) return map;
  // munkres minimises: cost = -overlap. Rows are reference speakers; min(R, H) pairs come back.
  const cost = overlap.map((row) => {
    if (row.length !== hypSpeakers) throw new Error(`optimalSpeakerMapping: row of ${row.length} overlaps for ${hypSpeakers} hypothesis speakers`);
    return row.map((v) => -v);
  });
  for (const [r, h] of munkres(cost)) map[r] = h;
  return map;
}

/** Total overlap of a mapping (what the optimal mapping maximises). */
export function mappedOverlap(overlap: OverlapMatrix, map: readonly number[]): number {
  return map.reduce((a, h, r) => a + (h >= 0 ? overlap[r]![h]! : 0), 0);
}
