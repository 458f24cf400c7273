// Real recorded speech for the low-resource experiment: a LibriSpeech-layout directory (SPEAKER/CHAPTER/*.trans.txt
// beside the audio; FLAC as openslr.org/12 ships it, or any format streamnest decodes, e.g. MP3) becomes 16 kHz WAV
// files and the manifests experiments/low-resource/run.sh --corpus reads:
//   pretrain_manifest.json  every utterance of the held-in speakers (unlabelled in pretraining)
//   labelled_manifest.json  the first LABELLED_MIN minutes of them, in a fixed shuffled order (mixing the speakers)
//   dev_manifest.json       every utterance of the held-out speakers (--dev-speakers)
//   noise_manifest.json     the shipped corpus's noise (data/corpus/noise), for NEST's noise augmentation
// Transcripts are lower-cased (the character vocabulary of the synthetic corpus). Usage:
//   node experiments/real-speech/prepare.mjs LIBRISPEECH_SUBSET_DIR OUT_DIR [--labelled-min 30] [--dev-speakers 1272,1462]
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : dflt;
};
const labelledMin = Number(opt('--labelled-min', '30'));
const devSpeakers = new Set(opt('--dev-speakers', '1272,1462').split(','));
const [src, out] = args;
if (!src || !out) throw new Error('usage: prepare.mjs LIBRISPEECH_SUBSET_DIR OUT_DIR [--labelled-min 30] [--dev-speakers 1272,1462]');
const { loadAudioAsync, readWavInfo, writeWav } = await import(pathToFileURL(join(root, 'dist/src/audio/index.js')).href);

// every transcript line "ID TEXT" of SPEAKER/CHAPTER/SPEAKER-CHAPTER.trans.txt, with its audio file (ID.*)
const utterances = [];
for (const speaker of readdirSync(src).sort()) {
  if (!/^\d+$/.test(speaker)) continue;
  for (const chapter of readdirSync(join(src, speaker)).sort()) {
    const dir = join(src, speaker, chapter);
    const files = readdirSync(dir);
    const trans = files.find((f) => f.endsWith('.trans.txt'));
    if (!trans) throw new Error(`${dir}: no .trans.txt transcript file`);
    readFileSync(join(dir, trans), 'utf8')
      .split('\n')
      .filter(Boolean)
      .forEach((line, i) => {
        const [id, ...words] = line.trim().split(/\s+/);
        const audio = files.find((f) => f.startsWith(`${id}.`) && !f.endsWith('.txt'));
        if (!audio) throw new Error(`${join(dir, trans)}:${i + 1}: no audio file ${id}.*`);
        utterances.push({ id, speaker, path: join(dir, audio), text: words.join(' ').toLowerCase() });
      });
  }
}
const missing = [...devSpeakers].filter((s) => !utterances.some((u) => u.speaker === s));
if (missing.length) throw new Error(`--dev-speakers: no utterances of speaker(s) ${missing.join(', ')} in ${src}`);

mkdirSync(join(out, 'wav'), { recursive: true });
const rows = [];
let done = 0;
for (const u of utterances) {
  const file = join(out, 'wav', `${u.id}.wav`);
  let frames; // a WAV written by an earlier run is kept, not decoded again
  if (existsSync(file)) frames = readWavInfo(file).numFrames;
  else {
    const a = await loadAudioAsync(u.path, { targetSampleRate: 16000 });
    writeWav(file, a.samples, 16000);
    frames = a.samples.length;
  }
  rows.push({ audio_filepath: `wav/${u.id}.wav`, duration: frames / 16000, offset: 0, text: u.text, speaker: u.speaker });
  if (++done % 100 === 0 || done === utterances.length) process.stderr.write(`\rdecoded ${done}/${utterances.length}`);
}
process.stderr.write('\n');

// a fixed shuffle (mulberry32, seed 8) so that the labelled subset mixes the held-in speakers
let s = 8;
const rand = () => {
  s = (s + 0x6d2b79f5) | 0;
  let t = Math.imul(s ^ (s >>> 15), 1 | s);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const train = rows.filter((r) => !devSpeakers.has(r.speaker));
for (let i = train.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [train[i], train[j]] = [train[j], train[i]];
}
const labelled = [];
for (let acc = 0, i = 0; i < train.length && acc + train[i].duration <= labelledMin * 60; i++) {
  acc += train[i].duration;
  labelled.push(train[i]);
}
const dev = rows.filter((r) => devSpeakers.has(r.speaker));
const noiseDir = join(root, 'data/corpus');
const noise = readFileSync(join(noiseDir, 'noise_manifest.json'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l))
  .map((r) => ({ ...r, audio_filepath: join(noiseDir, r.audio_filepath) }));
const write = (name, list) => writeFileSync(join(out, name), `${list.map((r) => JSON.stringify(r)).join('\n')}\n`);
write('pretrain_manifest.json', train);
write('labelled_manifest.json', labelled);
write('dev_manifest.json', dev);
write('noise_manifest.json', noise);
const min = (list) => (list.reduce((a, r) => a + r.duration, 0) / 60).toFixed(1);
const speakers = (list) => new Set(list.map((r) => r.speaker)).size;
console.log(
  `pretrain ${train.length} utts ${min(train)} min (${speakers(train)} speakers, unlabelled); labelled ${labelled.length} utts ${min(labelled)} min; dev ${dev.length} utts ${min(dev)} min (${speakers(dev)} speakers)`,
);
