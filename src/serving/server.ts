// `streamnest serve`: a WebSocket server speaking sherpa-onnx's online protocol (./protocol.ts), batching the ready
// streams of all connections into one decode call per loop turn, with limits, backpressure, /health, /metrics
// (Prometheus), the browser page (web/), and a graceful shutdown that finishes every open stream's results.
// Provenance: the decode loop follows sherpa-onnx's OnlineWebsocketDecoder (csrc/online-websocket-server-impl.cc):
// every loop_interval_ms, up to max_batch_size ready streams are decoded together and each gets its result.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import { OnlineRecognizer, RecognizerInputError, type OnlineRecognizerOptions, type OnlineStream } from './online-recognizer.js';
import { CLOSE, DONE, DONE_REPLY, ProtocolError, resultJson, samplesFromMessage } from './protocol.js';
import { ServerMetrics } from './metrics.js';
import { parseAttContextSize } from '../config/schema/encoder.js';

export interface ServerOptions {
  /** A CTC / hybrid .nemo path (loaded and owned by the server), or a recognizer (not disposed by close()). */
  model: string | OnlineRecognizer;
  /** Recognizer options when `model` is a path. */
  recognizer?: OnlineRecognizerOptions;
  /** Default 127.0.0.1 (this machine only). */
  host?: string;
  /** Default 6006 (sherpa-onnx's); 0 picks a free port. */
  port?: number;
  /** Streams open at once; more are closed with 1013 (default 64). */
  maxStreams?: number;
  /** Streams decoded together in one call (default 32). */
  maxBatchSize?: number;
  /** Largest message in bytes; larger ones close the connection with 1009 (default 1 MiB = 16 s of audio). */
  maxMessageBytes?: number;
  /** Seconds without a message before the stream is ended and closed with 1008 (default 30). */
  idleSeconds?: number;
  /** Sample rate of the clients' audio (default 16000, as sherpa-onnx's clients send). */
  sampleRate?: number;
  /** Received audio not yet decoded, in seconds, above which the server stops reading the socket (default 10). */
  maxBufferedSeconds?: number;
  /** How long the decode loop waits when no stream is ready, in ms (default 10). */
  loopIntervalMs?: number;
  /**
   * How long a ready stream may wait for others to become ready so that they decode in one batch, in ms (default 50;
   * 0 decodes every ready stream at once). Larger batches share the per-operator cost; streams with a backlog, ending
   * streams and full batches do not wait.
   */
  batchWaitMs?: number;
  /** Folder of the browser page (default: the package's web/); null serves no page. */
  webRoot?: string | null;
  /** Log lines (default: none). */
  log?: (line: string) => void;
}

export interface RunningServer {
  /** http://host:port/ */
  url: string;
  port: number;
  recognizer: OnlineRecognizer;
  metrics: ServerMetrics;
  /** Open streams. */
  readonly streams: number;
  /**
   * Graceful stop: no new connections; every open stream's input is ended, its remaining results and `Done!` are
   * sent, and it is closed (1000 when it had sent `Done`, else 1001); then the server closes. Idempotent.
   */
  close(): Promise<void>;
}

const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../web/', import.meta.url));
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/** One WebSocket connection and its stream. */
interface Connection {
  id: number;
  ws: WebSocket;
  /** The recognizer of the attention context the client asked for (the server's default unless ?att_context_size=L,R). */
  rec: OnlineRecognizer;
  stream: OnlineStream;
  /** The client sent `Done` (or the server ended the input: idle, shutdown). */
  inputEnded: boolean;
  /** The client itself sent `Done` (audio after it breaks the protocol). */
  clientDone: boolean;
  /** The close code to use once the last result is out. */
  closeCode: number;
  closeReason: string;
  /** The socket is closing or closed: nothing more is sent. */
  closed: boolean;
  /** Reading is paused for backpressure. */
  paused: boolean;
  /** When the stream became ready to decode (performance.now()), or null while it is not. */
  readySince: number | null;
  idle: NodeJS.Timeout | null;
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const host = o.host ?? '127.0.0.1';
  const maxStreams = o.maxStreams ?? 64;
  const maxBatch = o.maxBatchSize ?? 32;
  const idleMs = (o.idleSeconds ?? 30) * 1000;
  const inputRate = o.sampleRate ?? 16000;
  const maxBuffered = o.maxBufferedSeconds ?? 10;
  const loopMs = o.loopIntervalMs ?? 10;
  const batchWaitMs = o.batchWaitMs ?? 50;
  if (!(batchWaitMs >= 0)) throw new RangeError(`serve: batchWaitMs must be >= 0, got ${batchWaitMs}`);
  const webRoot = o.webRoot === undefined ? DEFAULT_WEB_ROOT : o.webRoot;
  const log = o.log ?? (() => {});
  for (const [k, v] of Object.entries({ maxStreams, maxBatchSize: maxBatch, sampleRate: inputRate, loopIntervalMs: loopMs })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`serve: ${k} must be a whole number >= 1, got ${v}`);
  }
  const recognizer = typeof o.model === 'string' ? await OnlineRecognizer.fromFile(o.model, o.recognizer) : o.model;
  const owns = typeof o.model === 'string';
  const warmMs = recognizer.warmUp(1, maxBatch);
  const metrics = new ServerMetrics();
  // one recognizer per trained attention context (a multi-look-ahead model serves each of its pairs; a client picks
  // one with ?att_context_size=L,R), all sharing the model, each warmed up before the server listens
  const recognizers = new Map<string, OnlineRecognizer>([[recognizer.geometry.attContextSize.join(','), recognizer]]);
  for (const pair of recognizer.trainedContexts) {
    if (recognizers.has(pair.join(','))) continue;
    const rec = recognizer.withAttContext(pair);
    rec.warmUp(1, maxBatch);
    recognizers.set(pair.join(','), rec);
  }
  /** Frees the recognizers the server made, the ones sharing the model first (the given one only when the server loaded it). */
  const disposeRecognizers = (): void => {
    for (const r of [...recognizers.values()].reverse()) if (r !== recognizer || owns) r.dispose();
  };
  const recognizerFor = (query: string | null): OnlineRecognizer => {
    if (query === null) return recognizer;
    const pair = parseAttContextSize(query);
    if (!pair) throw new ProtocolError(CLOSE.policyViolation, `att_context_size must be L,R (e.g. 70,13), got '${query.slice(0, 40)}'`);
    const rec = recognizers.get(pair.join(','));
    if (!rec) throw new ProtocolError(CLOSE.policyViolation, `att_context_size ${pair.join(',')} is not served (${[...recognizers.keys()].join(' | ')})`);
    return rec;
  };
  const conns = new Map<number, Connection>();
  let nextId = 1;
  let shuttingDown = false;
  let rotate = 0;

  const http = createServer((req, res) => {
    handleHttp(req, res).catch((e: unknown) => {
      log(`http: ${(e as Error).message}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const wss = new WebSocketServer({ server: http, maxPayload: o.maxMessageBytes ?? 1 << 20 });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
    if (path === '/health') {
      const body = JSON.stringify({
        status: shuttingDown ? 'shutting down' : 'ok',
        streams: conns.size,
        maxStreams,
        recognizer: recognizer.describe(),
        attContextSizes: recognizer.trainedContexts,
        defaultAttContextSize: recognizer.geometry.attContextSize,
      });
      return void res.writeHead(shuttingDown ? 503 : 200, { 'content-type': 'application/json' }).end(body);
    }
    if (path === '/metrics') return void res.writeHead(200, { 'content-type': metrics.contentType }).end(await metrics.text());
    // the page: files directly in webRoot only (no sub-folders, no dot-files), so no path can leave it
    const name = path === '/' ? 'index.html' : path.slice(1);
    const type = CONTENT_TYPES[extname(name)];
    if (webRoot === null || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || !type || !existsSync(join(webRoot, name)))
      return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' }).end(await readFile(join(webRoot, name)));
  }

  function send(c: Connection, text: string): void {
    if (!c.closed) c.ws.send(text);
  }

  function closeConn(c: Connection, code: number, reason: string): void {
    if (c.closed) return;
    metrics.closes.inc({ code: String(code) });
    c.ws.close(code, reason.slice(0, 120)); // close reasons are limited to 123 bytes
    forget(c);
  }

  /** The socket is closing or closed: nothing more is sent or read; the connection is forgotten and its stream freed. */
  function forget(c: Connection): void {
    c.closed = true;
    if (c.idle) clearTimeout(c.idle);
    if (!conns.delete(c.id)) return;
    c.stream.dispose();
    metrics.streamsActive.set(conns.size);
  }

  /** Ends a stream's input; its last results and `Done!` follow from the decode loop, then the close. */
  function endInput(c: Connection, code: number, reason: string): void {
    if (c.inputEnded) return;
    c.inputEnded = true;
    c.closeCode = code;
    c.closeReason = reason;
    if (c.idle) clearTimeout(c.idle);
    c.stream.inputFinished();
    resume(c);
  }

  function touch(c: Connection): void {
    if (c.idle) clearTimeout(c.idle);
    c.idle = setTimeout(() => endInput(c, CLOSE.policyViolation, `no message for ${idleMs / 1000} s`), idleMs);
  }

  function resume(c: Connection): void {
    if (c.paused && !c.closed) {
      c.paused = false;
      c.ws.resume();
    }
  }

  function onMessage(c: Connection, data: Buffer, isBinary: boolean): void {
    if (c.closed) return;
    try {
      if (!isBinary) {
        const text = data.toString('utf8');
        if (text !== DONE) throw new ProtocolError(CLOSE.unsupportedData, `expected binary float32 samples or the text '${DONE}', got a text message`);
        if (!c.inputEnded) c.clientDone = true;
        endInput(c, CLOSE.normal, 'done');
        return;
      }
      if (c.inputEnded) {
        // after the client's Done, audio breaks the protocol; after the server ended the input (idle, shutdown),
        // audio already on its way is dropped
        if (c.clientDone) throw new ProtocolError(CLOSE.policyViolation, `audio after '${DONE}'`);
        return;
      }
      touch(c);
      const samples = samplesFromMessage(data);
      c.stream.acceptWaveform({ sampleRate: inputRate, samples });
      metrics.audioSeconds.inc(samples.length / inputRate);
      // backpressure: a client sending faster than the server decodes waits (TCP flow control) until it catches up
      if (c.rec.bufferedSeconds(c.stream) > maxBuffered && !c.paused) {
        c.paused = true;
        c.ws.pause();
        metrics.pauses.inc();
      }
    } catch (e) {
      if (e instanceof ProtocolError) closeConn(c, e.code, e.message);
      else if (e instanceof RecognizerInputError) closeConn(c, CLOSE.invalidPayload, e.message);
      else {
        log(`stream ${c.id}: ${(e as Error).stack ?? e}`);
        closeConn(c, CLOSE.internalError, 'internal error');
      }
    }
  }

  wss.on('connection', (ws, req) => {
    if (shuttingDown) return void ws.close(CLOSE.goingAway, 'server shutting down');
    if (conns.size >= maxStreams) {
      metrics.closes.inc({ code: String(CLOSE.tryAgainLater) });
      return void ws.close(CLOSE.tryAgainLater, `too many streams (${maxStreams} open)`);
    }
    let rec: OnlineRecognizer;
    try {
      rec = recognizerFor(new URL(req.url ?? '/', 'http://x').searchParams.get('att_context_size'));
    } catch (e) {
      const code = e instanceof ProtocolError ? e.code : CLOSE.internalError;
      metrics.closes.inc({ code: String(code) });
      return void ws.close(code, (e as Error).message.slice(0, 120));
    }
    const c: Connection = {
      id: nextId++,
      ws,
      rec,
      stream: rec.createStream(),
      inputEnded: false,
      clientDone: false,
      closeCode: CLOSE.normal,
      closeReason: 'done',
      closed: false,
      paused: false,
      readySince: null,
      idle: null,
    };
    conns.set(c.id, c);
    metrics.streamsTotal.inc();
    metrics.streamsActive.set(conns.size);
    touch(c);
    ws.on('message', (data, isBinary) => onMessage(c, data as Buffer, isBinary));
    ws.on('close', () => forget(c));
    ws.on('error', (e) => {
      // ws reports protocol violations (e.g. a message over maxPayload: 1009) here and closes the socket itself
      log(`stream ${c.id}: ${e.message}`);
      metrics.closes.inc({
        code: String((e as Error & { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? CLOSE.messageTooBig : CLOSE.internalError),
      });
      forget(c);
    });
  });

  /**
   * Decodes up to maxBatch ready streams (rotating who goes first) and sends their results. Returns how many ran, or
   * -ms when ready streams are waiting (at most batchWaitMs) for others to join their batch.
   */
  function decodeTurn(): number {
    const now = performance.now();
    const open = [...conns.values()].filter((c) => !c.closed);
    const ready: Connection[] = [];
    for (const c of open) {
      if (c.rec.isReady(c.stream)) {
        c.readySince ??= now;
        ready.push(c);
      } else c.readySince = null;
    }
    if (ready.length === 0) return 0;
    const oldest = Math.min(...ready.map((c) => c.readySince!));
    const wait = oldest + batchWaitMs - now;
    if (wait > 0 && ready.length < maxBatch && !shuttingDown && !ready.some((c) => c.inputEnded)) return -wait;
    // one recognizer's streams per call (streams of different attention contexts cannot share a step): the one whose
    // stream has waited longest
    const first = ready.find((c) => c.readySince === oldest)!;
    const mine = ready.filter((c) => c.rec === first.rec);
    rotate = (rotate + 1) % mine.length;
    const batch = [...mine.slice(rotate), ...mine.slice(0, rotate)].slice(0, maxBatch);
    const t0 = performance.now();
    try {
      first.rec.decodeStreams(batch.map((c) => c.stream));
    } catch (e) {
      // find the stream that fails and close it; the others decode alone
      log(`batch decode failed (${(e as Error).message}); decoding the ${batch.length} streams one by one`);
      for (const c of batch) {
        try {
          c.rec.decode(c.stream);
        } catch (e1) {
          log(`stream ${c.id}: ${(e1 as Error).stack ?? e1}`);
          closeConn(c, CLOSE.internalError, 'decoding failed');
        }
      }
    }
    const ms = performance.now() - t0;
    metrics.steps.inc();
    metrics.batchSize.observe(batch.length);
    metrics.stepSeconds.observe(ms / 1000);
    for (const c of batch) {
      if (c.closed) continue;
      // a stream still ready has a backlog: it keeps its place (no new wait); one that is not starts afresh
      if (!c.rec.isReady(c.stream)) c.readySince = null;
      const r = c.rec.getResult(c.stream);
      const endpoint = !r.isEof && c.rec.isEndpoint(c.stream);
      send(c, resultJson(endpoint ? { ...r, isFinal: true } : r, { computeMs: ms, chunkMs: (c.stream.slot?.geometry ?? c.rec.geometry).chunkSeconds * 1000 }));
      if (endpoint) c.rec.reset(c.stream);
      if (r.isEof) {
        send(c, DONE_REPLY);
        closeConn(c, c.closeCode, c.closeReason);
      } else if (c.paused && c.rec.bufferedSeconds(c.stream) <= maxBuffered / 2) resume(c);
    }
    return batch.length;
  }

  let loop: NodeJS.Timeout | null = null;
  let stopped = false;
  const tick = (): void => {
    loop = null;
    if (stopped) return;
    let ran = 0;
    try {
      ran = decodeTurn();
    } catch (e) {
      log(`decode loop: ${(e as Error).stack ?? e}`);
    }
    // more work: yield to I/O once; streams waiting for a batch: until the first one's wait ends; else wait for audio
    if (ran > 0) loop = setTimeout(tick, 0);
    else if (ran < 0) loop = setTimeout(tick, Math.min(loopMs, -ran));
    else loop = setTimeout(tick, loopMs);
    if (shuttingDown && conns.size === 0) finishShutdown?.();
  };

  // ws re-emits the HTTP server's errors: a listen error is thrown below, later ones are logged
  let listening = false;
  wss.on('error', (e) => {
    if (listening) log(`server: ${e.message}`);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(o.port ?? 6006, host, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    wss.close();
    disposeRecognizers();
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'EADDRINUSE' ? 'the address is already in use (EADDRINUSE)' : err.message;
    throw new Error(`cannot listen on ${host}:${o.port ?? 6006}: ${why}`, { cause: e });
  }
  listening = true;
  const addr = http.address();
  const port = typeof addr === 'object' && addr ? addr.port : (o.port ?? 6006);
  loop = setTimeout(tick, loopMs);
  for (const r of recognizers.values()) if (r !== recognizer) log(`also serving ${r.describe()} (?att_context_size=${r.geometry.attContextSize.join(',')})`);
  log(`serving ${recognizer.describe()} on ws://${host}:${port}/ (page: http://${host}:${port}/; warm-up ${warmMs.toFixed(0)} ms)`);

  let finishShutdown: (() => void) | null = null;
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      shuttingDown = true;
      const drained = new Promise<void>((resolve) => {
        finishShutdown = resolve;
      });
      // (a stream whose input had already ended keeps its own close code)
      for (const c of conns.values()) endInput(c, CLOSE.goingAway, 'server shutting down');
      // every open stream ends within a few decode turns; the bound only guards against a stream that never does
      if (conns.size > 0) await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
      stopped = true;
      if (loop) clearTimeout(loop);
      // let the close handshakes that closeConn started finish (a client that does not answer is cut off after 2 s)
      const open = [...wss.clients].filter((ws) => ws.readyState !== ws.CLOSED);
      await Promise.race([
        Promise.all(open.map((ws) => new Promise((resolve) => ws.once('close', resolve)))),
        new Promise((resolve) => setTimeout(resolve, 2000).unref()),
      ]);
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections(); // idle keep-alive connections would hold close() open
      await httpClosed;
      disposeRecognizers();
    })();
    return closing;
  };

  return {
    url: `http://${host}:${port}/`,
    port,
    recognizer,
    metrics,
    get streams() {
      return conns.size;
    },
    close,
  };
}
