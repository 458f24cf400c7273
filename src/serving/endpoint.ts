// Endpoint detection: when has a speaker finished a segment? Three rules on the decoder's output, any of which ends
// the segment; times in seconds of encoder output.
// Provenance: sherpa-onnx's EndpointConfig / Endpoint::IsEndpoint (csrc/endpoint.{h,cc}), itself Kaldi's online
// endpointing; the defaults are sherpa-onnx's. Trailing silence = trailing blank frames of greedy CTC.

/** One rule: fires when the trailing silence and the segment length reach their minimums (and, if asked, something was said). */
export interface EndpointRule {
  /** Only when the segment holds a non-silent frame (a non-blank output). */
  mustContainNonSilence: boolean;
  /** Seconds of trailing silence (blank frames) at least. */
  minTrailingSilence: number;
  /** Seconds of segment at least. */
  minUtteranceLength: number;
}

export interface EndpointRules {
  /** Long silence, even if nothing was said (sherpa-onnx: 2.4 s). */
  rule1: EndpointRule;
  /** A pause after speech (sherpa-onnx: 1.2 s). */
  rule2: EndpointRule;
  /** A segment that has gone on too long (sherpa-onnx: 20 s). */
  rule3: EndpointRule;
}

export const DEFAULT_ENDPOINT_RULES: EndpointRules = {
  rule1: { mustContainNonSilence: false, minTrailingSilence: 2.4, minUtteranceLength: 0 },
  rule2: { mustContainNonSilence: true, minTrailingSilence: 1.2, minUtteranceLength: 0 },
  rule3: { mustContainNonSilence: false, minTrailingSilence: 0, minUtteranceLength: 20 },
};

/** Rules with some fields replaced; each value must be a finite number >= 0. */
export function endpointRules(overrides: { [K in keyof EndpointRules]?: Partial<EndpointRule> } = {}): EndpointRules {
  const out = { ...DEFAULT_ENDPOINT_RULES };
  for (const name of ['rule1', 'rule2', 'rule3'] as const) {
    const r = { ...DEFAULT_ENDPOINT_RULES[name], ...overrides[name] };
    for (const k of ['minTrailingSilence', 'minUtteranceLength'] as const) {
      if (!Number.isFinite(r[k]) || r[k] < 0) throw new RangeError(`endpoint ${name}.${k} must be a number >= 0 seconds, got ${r[k]}`);
    }
    out[name] = r;
  }
  return out;
}

/** Where a segment stands, in encoder frames since it started. */
export interface SegmentProgress {
  frames: number;
  trailingSilenceFrames: number;
}

function ruleFires(rule: EndpointRule, p: SegmentProgress, frameSeconds: number): boolean {
  const containsNonSilence = p.frames > p.trailingSilenceFrames;
  return (
    (!rule.mustContainNonSilence || containsNonSilence) &&
    // a small tolerance so that 1.2 s of 80 ms frames (15 frames) counts as 1.2 s
    p.trailingSilenceFrames * frameSeconds >= rule.minTrailingSilence - 1e-9 &&
    p.frames * frameSeconds >= rule.minUtteranceLength - 1e-9
  );
}

/** True when any rule fires. A segment with no frames is never an endpoint. */
export function isEndpoint(rules: EndpointRules, p: SegmentProgress, frameSeconds: number): boolean {
  if (p.frames === 0) return false;
  return ruleFires(rules.rule1, p, frameSeconds) || ruleFires(rules.rule2, p, frameSeconds) || ruleFires(rules.rule3, p, frameSeconds);
}
