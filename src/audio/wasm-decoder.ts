// One decode on a fresh WebAssembly decoder (mpg123-decoder, ogg-opus-decoder, @wasm-audio-decoders/ogg-vorbis,
// opus-decoder share this shape): awaited readiness, the decoder always freed, library errors, WebAssembly traps and
// the decoders' own error lists turned into AudioFileErrors naming the file, non-finite output refused.
import { AudioFileError, type DecodedAudio } from './wav.js';

export interface WasmDecoded {
  channelData: Float32Array[];
  samplesDecoded: number;
  sampleRate: number;
  errors: { message: string; frameNumber: number; inputBytes: number }[];
}

export interface Freeable {
  ready: Promise<void>;
  free(): void;
}

/** Runs `decode` on a fresh decoder, always freeing it; library exceptions (and WebAssembly traps) become AudioFileErrors. */
export async function withDecoder<D extends Freeable>(
  make: () => D,
  decode: (d: D) => WasmDecoded | Promise<WasmDecoded>,
  path: string,
  what: string,
): Promise<DecodedAudio> {
  let d: D | null = null;
  let r: WasmDecoded;
  try {
    d = make();
    await d.ready;
    r = await decode(d);
  } catch (e) {
    if (e instanceof AudioFileError) throw e;
    throw new AudioFileError(path, 'format', `corrupt ${what} stream: ${(e as Error).message}`);
  } finally {
    try {
      d?.free();
    } catch {
      // a decoder that trapped may not free cleanly; it is dropped either way
    }
  }
  return checked(r, path, what);
}

function checked(r: WasmDecoded, path: string, what: string): DecodedAudio {
  if (r.errors.length > 0) {
    const e = r.errors[0]!;
    const more = r.errors.length > 1 ? ` (and ${r.errors.length - 1} more errors)` : '';
    throw new AudioFileError(path, 'format', `corrupt ${what} stream: ${e.message} at frame ${e.frameNumber}, byte ${e.inputBytes}${more}`);
  }
  if (r.samplesDecoded === 0 || r.channelData.length === 0) throw new AudioFileError(path, 'empty', `no audio decoded from the ${what} stream`);
  const channels = r.channelData.map((c) => (c.length === r.samplesDecoded ? c : c.subarray(0, r.samplesDecoded)));
  for (const c of channels) {
    for (let i = 0; i < c.length; i++)
      if (!Number.isFinite(c[i]!)) throw new AudioFileError(path, 'nonfinite', `non-finite sample ${i} from the ${what} decoder`);
  }
  return { sampleRate: r.sampleRate, channels };
}

/** The decoders print their errors to stderr (libmpg123, libopus); they are reported through the AudioFileError instead. */
export async function quietly<T>(f: () => Promise<T>): Promise<T> {
  const original = console.error;
  console.error = () => undefined;
  try {
    return await f();
  } finally {
    console.error = original;
  }
}
