// The built-in synthetic corpus: espeak-ng speech over several voices, rates and pitches, texts drawn
// from data/sentences.txt (validation sentences disjoint from training ones), plus a noise set
// (white, pink, brown, babble), written as 16 kHz PCM16 WAVs with NeMo JSON-lines manifests.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Rng } from './rng.js';
import { synthesize, missingTools, type VoiceSettings } from './tts.js';
import { writeWav } from '../audio/wav.js';
import { babble, normalizeRms, syntheticNoise, type SyntheticNoiseKind } from './noise-synth.js';

/** espeak-ng voices (language + optional variant) the corpus draws from. */
export const CORPUS_VOICES: readonly string[] = [
  'en-us',
  'en-us+f3',
  'en-us+m3',
  'en-us+f2',
  'en',
  'en+f4',
  'en+m1',
  'en-gb-x-rp',
  'en-gb-x-rp+f3',
  'en-gb-scotland',
  'en-gb-scotland+m2',
  'en-029+f1',
];
export const RATE_RANGE: readonly [number, number] = [130, 200];
export const PITCH_RANGE: readonly [number, number] = [30, 70];

export interface CorpusOptions {
  outDir: string;
  /** Total minutes of speech (train + validation). */
  minutes: number;
  seed: number;
  /** Share of the speech minutes (and of the sentence list) used for validation. */
  valFraction?: number;
  /** Clips per noise kind (white, pink, brown, babble). */
  noiseClipsPerKind?: number;
  noiseSeconds?: number;
  sentencesPath?: string;
  sampleRate?: number;
  onProgress?: (p: CorpusProgress) => void;
}

export interface CorpusProgress {
  stage: 'train' | 'val' | 'noise';
  files: number;
  speechSeconds: number;
  targetSeconds: number;
}

export interface ManifestLine {
  audio_filepath: string;
  duration: number;
  offset: number;
  text: string;
  [k: string]: unknown;
}

export interface CorpusResult {
  outDir: string;
  train: ManifestLine[];
  val: ManifestLine[];
  noise: ManifestLine[];
}

/** The repository root (the folder holding package.json above this module). */
export function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json')) && dirname(d) !== d) d = dirname(d);
  return d;
}

export function defaultSentencesPath(): string {
  return join(repoRoot(), 'data', 'sentences.txt');
}

/** Sentences from a text file: one per line, '#' comments and blank lines ignored. */
export function readSentences(path: string): string[] {
  const lines = readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim());
  const out = lines.filter((l) => l.length > 0 && !l.startsWith('#'));
  if (out.length < 2) throw new Error(`${path}: need at least 2 sentences (one for training, one for validation), found ${out.length}`);
  return out;
}

/** Split sentences (seeded) into disjoint training and validation pools. */
export function splitSentences(sentences: readonly string[], valFraction: number, rng: Rng): { train: string[]; val: string[] } {
  const shuffled = rng.shuffle(sentences.slice());
  const nVal = Math.min(shuffled.length - 1, Math.max(1, Math.round(shuffled.length * valFraction)));
  return { val: shuffled.slice(0, nVal), train: shuffled.slice(nVal) };
}

/** Draws sentences from a pool without repeats until the pool is exhausted, then reshuffles. */
class SentenceDeck {
  private order: string[] = [];
  constructor(
    private readonly pool: readonly string[],
    private readonly rng: Rng,
  ) {}
  next(): string {
    if (this.order.length === 0) this.order = this.rng.shuffle(this.pool.slice());
    return this.order.pop()!;
  }
}

export function drawVoice(rng: Rng): VoiceSettings {
  return {
    voice: rng.pick(CORPUS_VOICES),
    rate: rng.int(RATE_RANGE[0], RATE_RANGE[1]),
    pitch: rng.int(PITCH_RANGE[0], PITCH_RANGE[1]),
  };
}

function writeManifest(path: string, lines: readonly ManifestLine[]): void {
  writeFileSync(path, lines.map((l) => JSON.stringify(l)).join('\n') + (lines.length ? '\n' : ''));
}

/** Build the corpus; returns the manifest lines written. Needs espeak-ng and sox on PATH. */
export async function makeCorpus(opts: CorpusOptions): Promise<CorpusResult> {
  const missing = missingTools();
  if (missing) throw new Error(`make-corpus: ${missing}`);
  if (!(opts.minutes > 0)) throw new Error(`make-corpus: --minutes must be > 0, got ${opts.minutes}`);
  const sr = opts.sampleRate ?? 16000;
  const valFraction = opts.valFraction ?? 0.12;
  const perKind = opts.noiseClipsPerKind ?? 1;
  const noiseSeconds = opts.noiseSeconds ?? 3;
  const sentences = readSentences(opts.sentencesPath ?? defaultSentencesPath());
  const rng = new Rng(opts.seed);
  const pools = splitSentences(sentences, valFraction, rng);
  const decks = { train: new SentenceDeck(pools.train, rng), val: new SentenceDeck(pools.val, rng) };

  const out = opts.outDir;
  for (const sub of ['train', 'val', 'noise']) mkdirSync(join(out, sub), { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'streamnest-corpus-'));
  const totalSeconds = opts.minutes * 60;
  const result: CorpusResult = { outDir: out, train: [], val: [], noise: [] };
  let files = 0;
  let speechSeconds = 0;
  try {
    const targets = { train: totalSeconds * (1 - valFraction), val: totalSeconds * valFraction };
    for (const split of ['train', 'val'] as const) {
      let seconds = 0;
      while (seconds < targets[split] || result[split].length === 0) {
        const text = decks[split].next();
        const voice = drawVoice(rng);
        const samples = normalizeRms(await synthesize(text, voice, tmp, `${files}`, sr), rng.uniform(-26, -18));
        const name = `${split}/${split}-${String(result[split].length).padStart(5, '0')}.wav`;
        writeWav(join(out, name), samples, sr);
        const duration = samples.length / sr;
        result[split].push({ audio_filepath: name, duration, offset: 0, text, speaker: voice.voice });
        seconds += duration;
        speechSeconds += duration;
        files++;
        opts.onProgress?.({ stage: split, files, speechSeconds, targetSeconds: totalSeconds });
      }
    }

    const n = Math.round(noiseSeconds * sr);
    for (let c = 0; c < perKind; c++) {
      for (const kind of ['white', 'pink', 'brown', 'babble'] as const) {
        let samples: Float32Array;
        if (kind === 'babble') {
          const talkers = rng.int(3, 5);
          const clips: Float32Array[] = [];
          for (let k = 0; k < talkers; k++) {
            clips.push(normalizeRms(await synthesize(decks.train.next(), drawVoice(rng), tmp, `babble${k}`, sr), -22));
          }
          samples = babble(clips, n, rng, rng.uniform(-30, -22));
        } else {
          samples = syntheticNoise(kind as SyntheticNoiseKind, n, rng, rng.uniform(-30, -22));
        }
        const name = `noise/${kind}-${c}.wav`;
        writeWav(join(out, name), samples, sr);
        result.noise.push({ audio_filepath: name, duration: n / sr, offset: 0, text: '', noise_type: kind });
        files++;
        opts.onProgress?.({ stage: 'noise', files, speechSeconds, targetSeconds: totalSeconds });
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  writeManifest(join(out, 'train_manifest.json'), result.train);
  writeManifest(join(out, 'val_manifest.json'), result.val);
  writeManifest(join(out, 'noise_manifest.json'), result.noise);
  return result;
}
