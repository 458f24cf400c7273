// Test helper: a sherpa-onnx-style WebSocket client (binary float32 LE samples, 'Done', JSON results, 'Done!').
import WebSocket from 'ws';

export interface ClientRun {
  results: Record<string, unknown>[];
  /** Text messages that were not JSON ('Done!'). */
  texts: string[];
  closeCode: number;
  closeReason: string;
}

/** The float32 little-endian bytes of samples. */
export function bytes(x: Float32Array): Buffer {
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
}

/** Opens a connection; resolves when it is open (or rejects). */
export function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'));
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** Collects everything the server sends until it closes. */
export function collect(ws: WebSocket): Promise<ClientRun> {
  const run: ClientRun = { results: [], texts: [], closeCode: 0, closeReason: '' };
  ws.on('message', (data, isBinary) => {
    if (isBinary) throw new Error('the server sent a binary message');
    const s = data.toString();
    try {
      run.results.push(JSON.parse(s) as Record<string, unknown>);
    } catch {
      run.texts.push(s);
    }
  });
  return new Promise((resolve) => {
    ws.on('close', (code, reason) => {
      run.closeCode = code;
      run.closeReason = reason.toString();
      resolve(run);
    });
  });
}

/** Streams audio in pieces (pausing `gapMs` between them), sends 'Done' and returns what came back. */
export async function streamAudio(url: string, audio: Float32Array, o: { piece?: number; gapMs?: number; done?: boolean } = {}): Promise<ClientRun> {
  const ws = await connect(url);
  const got = collect(ws);
  const piece = o.piece ?? 1600;
  for (let i = 0; i < audio.length; i += piece) {
    ws.send(bytes(audio.subarray(i, i + piece)));
    if (o.gapMs) await new Promise((r) => setTimeout(r, o.gapMs));
  }
  if (o.done !== false) ws.send('Done');
  return got;
}

/** All final segments' text, joined as the page joins them. */
export function finalText(run: ClientRun): string {
  return run.results
    .filter((r) => r.is_final)
    .map((r) => r.text as string)
    .filter((x) => x)
    .join(' ');
}
