// `streamnest eval-diar`: diarization error rate of hypothesis RTTM against reference RTTM (src/diarization/der.ts).
// The hypothesis comes from --hyp RTTM, or from a diarizer .nemo run on the manifest's audio (`--model M --manifest F
// [--streaming]`, src/diarization/diarize-audio.ts), feeding the same scoring and report.
import { ArgError, formatOptions, parseArgs, type OptionsSpec } from '../args.js';
import type { DerReport, DerTotals } from '../../diarization/der.js';
import type { SpeakerTurn } from '../../diarization/rttm.js';

export const name = 'eval-diar';
export const summary = 'Score speaker diarization: DER (missed, false alarm, confusion) of hypothesis RTTM against reference RTTM';

const spec = {
  ref: { type: 'string', metavar: 'PATH', help: 'reference RTTM file, or a folder of *.rttm' },
  manifest: { type: 'string', metavar: 'FILE', help: 'NeMo diarization manifest: references (and UEMs) from rttm_filepath / uem_filepath' },
  hyp: { type: 'string', metavar: 'PATH', help: 'hypothesis RTTM file, or a folder of *.rttm' },
  uem: { type: 'string', metavar: 'PATH', help: 'UEM file or folder of *.uem: the regions to score (default: each reference extent)' },
  collar: { type: 'number', default: 0.25, help: 'no-score collar in seconds around reference boundaries (0 = none)' },
  skipOverlap: { type: 'boolean', help: 'do not score time where two or more reference speakers talk' },
  perFile: { type: 'boolean', help: 'print one line per recording' },
  json: { type: 'boolean', help: 'print the report as JSON' },
  model: { type: 'string', metavar: 'M.nemo', help: "diarizer .nemo: hypotheses from the model on the manifest's audio instead of --hyp" },
  streaming: {
    type: 'boolean',
    help: 'with --model: read each recording from its file in 0.5 s pieces through the cache-aware encoder (bounded memory; see Streaming below)',
  },
  chunkSize: { type: 'number', metavar: 'SECONDS', help: "with --streaming: the streaming chunk (default: the encoder context's own)" },
  offlineLimitMb: {
    type: 'number',
    default: 1024,
    metavar: 'MB',
    help: "with --model, offline: refuse a recording whose self-attention scores (heads x T'^2 x 4 bytes) pass this",
  },
  threshold: { type: 'number', default: 0.5, help: 'with --model: speech when a speaker activity is >= this' },
  outRttm: { type: 'string', metavar: 'DIR', help: "with --model: write each recording's hypothesis as DIR/<file>.rttm" },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest eval-diar (--ref PATH | --manifest FILE) --hyp PATH [--collar 0.25] [--uem PATH] [options]
       streamnest eval-diar --manifest FILE --model M.nemo [--streaming] [--collar 0.25] [options]

${summary}.
DER = (missed + false alarm + speaker confusion) / scored reference speaker time, as NIST md-eval-22.pl computes
it: overlapping speech counts once per speaker, speakers are mapped one-to-one to maximise the time they speak
together (Hungarian algorithm), and nothing is scored within +-collar of a reference turn's start or end. Each
recording (RTTM file id and channel) is scored over its UEM segments, or else over its reference extent; totals
add up all recordings. Recordings that only the hypothesis has are listed and not scored.

With --model, offline runs one forward pass per recording; its self-attention scores grow with the square of the
length (heads x T'^2 x 4 bytes per layer, 12.5 encoder frames per second), so a recording above --offline-limit-mb
is refused before it is loaded, naming the file and manifest line (1024 MB: about 11 min with 4 heads, 7.7 with 8).
Streaming: --streaming reads WAV and FLAC from the file in pieces (MP3/Opus/Vorbis are decoded whole, up to 16 MiB)
and holds only the encoder's caches plus num_spks floats per 80 ms frame, at any length. The streamed activities
equal the offline ones while the left context fits the attention cache: a limited left context always does; an
unlimited one (att_context_size [-1, R]) keeps the last 10000 encoder frames (NeMo's max_context, rounded up to
whole chunks: 800 s), so beyond that length streaming equals an offline pass with a left context of 10000 frames,
not the unlimited one.

Options:
${formatOptions(spec)}

Examples:
  streamnest eval-diar --ref ref.rttm --hyp sys.rttm
  streamnest eval-diar --manifest diar/diarization_manifest.json --hyp out/rttm --collar 0 --per-file
  streamnest eval-diar --manifest diar/diarization_manifest.json --model diarizer.nemo --streaming --out-rttm out/rttm`;

const pct = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(2)}%` : 'n/a');

function totalsLine(label: string, t: DerTotals): string {
  const share = (x: number): string => (t.scored > 0 ? pct(x / t.scored) : 'n/a');
  return `${label}  DER ${pct(t.der).padStart(7)}  missed ${share(t.missed).padStart(7)}  false alarm ${share(t.falseAlarm).padStart(7)}  confusion ${share(t.confusion).padStart(7)}  scored speaker time ${t.scored.toFixed(2)} s`;
}

function formatReport(r: DerReport, o: { collar: number; skipOverlap: boolean; perFile: boolean }): string {
  const lines: string[] = [];
  const width = Math.max(5, ...r.recordings.map((x) => x.file.length + (x.channel === '1' ? 0 : x.channel.length + 1)));
  if (o.perFile) {
    for (const x of r.recordings) {
      const label = (x.channel === '1' ? x.file : `${x.file}/${x.channel}`).padEnd(width);
      const map = [...x.mapping].map(([a, b]) => `${a}->${b ?? '-'}`).join(' ');
      lines.push(`${totalsLine(label, x)}  ${map}`);
    }
  }
  lines.push(totalsLine('total'.padEnd(width), r.total));
  lines.push(`${r.recordings.length} recordings, collar ${o.collar} s${o.skipOverlap ? ', overlapped speech not scored' : ''}`);
  if (r.unscoredHypothesis.length > 0) lines.push(`not scored (no reference or UEM): ${r.unscoredHypothesis.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

function reportJson(r: DerReport): unknown {
  return {
    total: r.total,
    recordings: r.recordings.map((x) => ({ ...x, mapping: Object.fromEntries(x.mapping) })),
    unscoredHypothesis: r.unscoredHypothesis,
  };
}

/** Hypothesis turns of a diarizer .nemo on every manifest entry (written to --out-rttm when given). */
async function modelHypotheses(
  model: string,
  manifest: string,
  o: { streaming?: boolean; chunkSize?: number; threshold: number; outRttm?: string; offlineLimitMb: number },
): Promise<SpeakerTurn[]> {
  const { loadDiarizer } = await import('../../diarization/diarizer-archive.js');
  const { diarizeManifest } = await import('../../diarization/diarize-audio.js');
  const { writeRttm } = await import('../../diarization/rttm.js');
  const { mkdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { StreamingConfigError } = await import('../../streaming/index.js');
  const loaded = loadDiarizer(model);
  for (const w of loaded.warnings) process.stderr.write(`streamnest: ${model}: ${w}\n`);
  if (o.outRttm !== undefined) mkdirSync(o.outRttm, { recursive: true });
  try {
    // stream in pieces of 0.5 s, as audio would arrive; the streaming chunk is the model's (or --chunk-size)
    return await diarizeManifest(
      loaded.model,
      manifest,
      { streamSeconds: o.streaming ? 0.5 : null, chunkSeconds: o.chunkSize, onset: o.threshold, offlineAttentionBytes: o.offlineLimitMb * 2 ** 20 },
      (file, turns) => {
        if (o.outRttm !== undefined) writeRttm(join(o.outRttm, `${file}.rttm`), turns);
      },
    );
  } catch (e) {
    if (e instanceof StreamingConfigError) throw new ArgError(`eval-diar: ${e.message}`);
    throw e;
  } finally {
    loaded.model.dispose();
  }
}

export async function run(argv: string[]): Promise<number> {
  const { options: o } = parseArgs(argv, spec, { maxPositionals: 0 });
  if ((o.ref === undefined) === (o.manifest === undefined)) throw new ArgError(`eval-diar: give exactly one of --ref and --manifest\n\n${usage}`);
  if (o.model !== undefined) {
    if (o.manifest === undefined) throw new ArgError("eval-diar: --model runs on a manifest's audio; give --manifest instead of --ref");
    if (o.hyp !== undefined) throw new ArgError('eval-diar: give --hyp or --model, not both');
  } else {
    if (o.hyp === undefined) throw new ArgError(`eval-diar: --hyp is required (or --model with --manifest)\n\n${usage}`);
    for (const [flag, set] of [
      ['--streaming', o.streaming],
      ['--chunk-size', o.chunkSize],
      ['--out-rttm', o.outRttm],
    ] as const)
      if (set !== undefined) throw new ArgError(`eval-diar: ${flag} applies to --model only`);
  }
  if (o.chunkSize !== undefined && !o.streaming) throw new ArgError('eval-diar: --chunk-size applies to --streaming only');
  if (!(o.offlineLimitMb > 0)) throw new ArgError(`eval-diar: --offline-limit-mb must be > 0, got ${o.offlineLimitMb}`);
  if (!(o.threshold > 0 && o.threshold < 1)) throw new ArgError(`eval-diar: --threshold must be between 0 and 1, got ${o.threshold}`);
  if (!(o.collar >= 0)) throw new ArgError(`eval-diar: --collar must be >= 0 seconds, got ${o.collar}`);
  const { scoreDiarization } = await import('../../diarization/der.js');
  const sources = await import('../../diarization/rttm-sources.js');
  const refs = o.ref !== undefined ? { ref: sources.readRttmPath(o.ref), uem: null } : sources.readManifestReferences(o.manifest!);
  const uem = o.uem !== undefined ? sources.readUemPath(o.uem) : refs.uem;
  const hyp = o.model !== undefined ? await modelHypotheses(o.model, o.manifest!, o) : sources.readRttmPath(o.hyp!);
  const report = scoreDiarization(refs.ref, hyp, uem, { collar: o.collar, skipOverlap: o.skipOverlap ?? false });
  if (report.recordings.length === 0) throw new ArgError('eval-diar: the reference has no SPEAKER turns and no UEM: nothing to score');
  process.stdout.write(
    o.json
      ? `${JSON.stringify(reportJson(report), null, 1)}\n`
      : formatReport(report, { collar: o.collar, skipOverlap: o.skipOverlap ?? false, perFile: o.perFile ?? false }),
  );
  return 0;
}
