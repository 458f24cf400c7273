// `streamnest diarize`: who spoke when in one recording, from a diarizer .nemo (finetune-diar), offline or streamed
// from the file; writes RTTM, and optionally the frame activities (.npy) and a plot of speaker activity over time.
import { basename, extname } from 'node:path';
import { ArgError, formatOptions, parseArgs, type OptionsSpec } from '../args.js';
import type { SpeakerTurn } from '../../diarization/rttm.js';
import type { ActivityLane } from '../../plot/index.js';

export const name = 'diarize';
export const summary = 'Who spoke when in one recording: RTTM from a diarizer .nemo, offline or streamed, with an optional activity plot';

const spec = {
  model: { type: 'string', short: 'm', metavar: 'M.nemo', help: 'diarizer .nemo (finetune-diar)' },
  audio: { type: 'string', metavar: 'FILE', help: 'the recording (WAV/FLAC read in pieces when streamed; MP3/Opus/Vorbis decoded whole)' },
  streaming: { type: 'boolean', help: 'stream the file through the cache-aware encoder in 0.5 s pieces (the same activities as offline)' },
  chunkSize: { type: 'number', metavar: 'SECONDS', help: "with --streaming: the streaming chunk (default: the encoder context's own)" },
  threshold: { type: 'number', default: 0.5, help: 'speech when a speaker activity is >= this' },
  rttm: { type: 'string', metavar: 'OUT.rttm', help: 'write the turns here (default: print them)' },
  activities: { type: 'string', metavar: 'OUT.npy', help: 'write the frame activities float32 [frames, speakers]' },
  plot: { type: 'string', metavar: 'OUT.png', help: 'draw speaker activity over time (with --ref: the reference turns shaded under it)' },
  ref: {
    type: 'string',
    metavar: 'REF.rttm',
    help: "with --plot: reference turns, each reference speaker drawn in the lane of the model speaker it maps to (DER's optimal mapping)",
  },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest diarize --model M.nemo --audio FILE [--streaming] [--rttm OUT.rttm] [--plot OUT.png [--ref REF.rttm]]

${summary}.
The model gives each of its speakers (up to 4, numbered by first arrival: spk0 speaks first) an activity per 80 ms
encoder frame; a speaker's turns are its runs of frames >= --threshold. The RTTM file id is the audio file's name.
With --ref the DER of the turns is printed as well (collar 0.25 s).

Options:
${formatOptions(spec)}

Examples:
  streamnest diarize --model diarizer.nemo --audio meeting.wav --streaming --rttm meeting.rttm
  streamnest diarize --model diarizer.nemo --audio session_00000.wav --ref session_00000.rttm --plot session.png`;

export async function run(argv: string[]): Promise<number> {
  const { options: o } = parseArgs(argv, spec, { maxPositionals: 0 });
  if (!o.model || !o.audio) throw new ArgError(`diarize: --model and --audio are required\n\n${usage}`);
  if (o.chunkSize !== undefined && !o.streaming) throw new ArgError('diarize: --chunk-size applies to --streaming only');
  if (!(o.threshold > 0 && o.threshold < 1)) throw new ArgError(`diarize: --threshold must be between 0 and 1, got ${o.threshold}`);
  const { readRttm, formatRttm, writeRttm } = await import('../../diarization/rttm.js');
  const ref = o.ref !== undefined ? readRttm(o.ref) : null; // a bad reference fails before the model runs
  const { loadDiarizer } = await import('../../diarization/diarizer-archive.js');
  const { diarizeFile } = await import('../../diarization/diarize-audio.js');
  const { activityTurns } = await import('../../diarization/activity-turns.js');
  const { StreamingConfigError } = await import('../../streaming/index.js');
  const loaded = loadDiarizer(o.model);
  for (const w of loaded.warnings) process.stderr.write(`streamnest: ${o.model}: ${w}\n`);
  const model = loaded.model;
  const S = model.numSpeakers;
  const frameSeconds = model.frameSeconds;
  const file = basename(o.audio, extname(o.audio));
  let activities: Float32Array;
  try {
    activities = await diarizeFile(model, o.audio, { streamSeconds: o.streaming ? 0.5 : null, chunkSeconds: o.chunkSize });
  } catch (e) {
    if (e instanceof StreamingConfigError) throw new ArgError(`diarize: ${e.message}`);
    throw e;
  } finally {
    model.dispose();
  }
  const turns = activityTurns(activities, S, { frameSeconds, onset: o.threshold, file });
  if (o.rttm !== undefined) writeRttm(o.rttm, turns);
  else process.stdout.write(formatRttm(turns));
  if (o.activities !== undefined) {
    const t = await import('../../torch/index.js');
    t.tidy(() => t.writeNpy(o.activities!, t.tensor(activities, [activities.length / S, S])));
  }
  const refTurns = ref === null ? null : recordingReference(ref, file, o.ref!);
  if (refTurns !== null) await printDer(refTurns, turns);
  if (o.plot !== undefined) await drawPlot(o.plot, { activities, S, frameSeconds, ref: refTurns, turns, title: basename(o.audio), threshold: o.threshold });
  const seconds = (activities.length / S) * frameSeconds;
  process.stderr.write(
    `diarize: ${o.audio}: ${seconds.toFixed(2)} s, ${new Set(turns.map((x) => x.speaker)).size} speakers, ${turns.length} turns (${o.streaming ? 'streamed' : 'offline'})\n`,
  );
  return 0;
}

/** The reference turns of recording `file` under that id: all of them when the RTTM holds one recording. */
function recordingReference(ref: readonly SpeakerTurn[], file: string, path: string): SpeakerTurn[] {
  const files = new Set(ref.map((x) => x.file));
  const mine = files.size <= 1 ? [...ref] : ref.filter((x) => x.file === file);
  if (mine.length === 0) throw new ArgError(`diarize: ${path} holds recordings ${[...files].join(', ')} but none named '${file}'`);
  return mine.map((x) => ({ ...x, file }));
}

async function printDer(ref: readonly SpeakerTurn[], hyp: readonly SpeakerTurn[]): Promise<void> {
  const { scoreDiarization } = await import('../../diarization/der.js');
  const r = scoreDiarization(ref, hyp, null, { collar: 0.25 });
  const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
  process.stdout.write(
    `# DER ${pct(r.total.der)} (missed ${pct(r.total.missed / r.total.scored)}, false alarm ${pct(r.total.falseAlarm / r.total.scored)}, confusion ${pct(r.total.confusion / r.total.scored)}; collar 0.25 s)\n`,
  );
}

/**
 * The plot's lanes: one per model speaker (spk0, spk1, ...: its activity, and the reference turns of the reference
 * speaker DER's optimal mapping gives it), then one per reference speaker mapped to none (its turns only).
 */
export function activityLanes(
  activities: Float32Array,
  numSpeakers: number,
  ref: readonly SpeakerTurn[] | null,
  mapping: ReadonlyMap<string, string | null>,
): ActivityLane[] {
  const frames = activities.length / numSpeakers;
  const lanes = Array.from({ length: numSpeakers }, (_, s) => ({
    label: `spk${s}`,
    reference: [] as [number, number][],
    activity: Float32Array.from({ length: frames }, (_, f) => activities[f * numSpeakers + s]!),
  }));
  const byName = new Map(lanes.map((l) => [l.label, l]));
  const extra = new Map<string, [number, number][]>();
  for (const x of ref ?? []) {
    const to = mapping.get(x.speaker) ?? null;
    const lane = to === null ? undefined : byName.get(to);
    const span: [number, number] = [x.start, x.start + x.duration];
    if (lane) {
      lane.label = `${x.speaker.slice(0, 5)}>${to}`;
      lane.reference.push(span);
    } else extra.set(x.speaker, [...(extra.get(x.speaker) ?? []), span]);
  }
  return [...lanes, ...[...extra].map(([speaker, spans]) => ({ label: speaker, reference: spans, activity: new Float32Array(0) }))];
}

async function drawPlot(
  path: string,
  o: {
    activities: Float32Array;
    S: number;
    frameSeconds: number;
    ref: readonly SpeakerTurn[] | null;
    turns: readonly SpeakerTurn[];
    title: string;
    threshold: number;
  },
): Promise<void> {
  const { activityPlot } = await import('../../plot/index.js');
  const { scoreDiarization } = await import('../../diarization/der.js');
  const mapping = o.ref?.length ? (scoreDiarization(o.ref, o.turns, null, { collar: 0 }).recordings[0]?.mapping ?? new Map()) : new Map();
  const lanes = activityLanes(o.activities, o.S, o.ref, mapping);
  const seconds = Math.max((o.activities.length / o.S) * o.frameSeconds, ...(o.ref ?? []).map((x) => x.start + x.duration));
  const subtitle = o.ref
    ? 'shaded: reference speech; line: model activity (spk0 = first to speak); dashed: threshold'
    : 'line: model activity; dashed: threshold';
  activityPlot(lanes, { title: o.title, subtitle, frameSeconds: o.frameSeconds, seconds, threshold: o.threshold }).save(path);
}
