// Speech synthesis for the built-in corpus: espeak-ng renders a sentence to a temporary WAV,
// sox converts it to 16 kHz mono PCM16 raw samples on stdout.
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

export interface VoiceSettings {
  /** espeak-ng voice, optionally with a variant: "en-us", "en-gb-x-rp+f3". */
  voice: string;
  /** Words per minute (espeak -s). */
  rate: number;
  /** Pitch 0..99 (espeak -p). */
  pitch: number;
}

/** Whether an executable is on PATH (runs `which`). */
export function hasCommand(name: string): boolean {
  try {
    execFileSync('which', [name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A clear error listing the missing tools and how to install them, or null when all are present. */
export function missingTools(tools: readonly string[] = ['espeak-ng', 'sox']): string | null {
  const missing = tools.filter((t) => !hasCommand(t));
  if (missing.length === 0) return null;
  return `missing ${missing.join(' and ')}: install with \`apt-get install -y ${missing.join(' ')}\``;
}

function run(cmd: string, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.slice(0, 6).join(' ')} failed: ${err.message} ${stderr.toString().trim()}`));
      else resolve(stdout);
    });
  });
}

/** Synthesise `text` and return float samples at `sampleRate` (mono). `tmpDir` must exist. */
export async function synthesize(text: string, v: VoiceSettings, tmpDir: string, tag: string, sampleRate = 16000): Promise<Float32Array> {
  const wav = join(tmpDir, `tts-${tag}.wav`);
  try {
    await run('espeak-ng', ['-v', v.voice, '-s', String(Math.round(v.rate)), '-p', String(Math.round(v.pitch)), '-w', wav, text]);
    const raw = await run('sox', [wav, '-t', 'raw', '-r', String(sampleRate), '-c', '1', '-b', '16', '-e', 'signed-integer', '-L', '-']);
    const n = Math.floor(raw.length / 2);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = raw.readInt16LE(2 * i) / 32768;
    return out;
  } finally {
    rmSync(wav, { force: true });
  }
}
