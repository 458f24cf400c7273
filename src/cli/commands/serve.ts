// `streamnest serve`: streaming recognition over WebSocket (sherpa-onnx's online protocol), with the browser page,
// /health and /metrics. SIGTERM / SIGINT finish every open stream's results, then the command exits 0.
import { formatOptions, parseArgs, ArgError, type OptionsSpec } from '../args.js';
import { parseContextPair } from '../att-context.js';

export const name = 'serve';
export const summary = 'Serve streaming recognition over WebSocket (sherpa-onnx protocol), with a live browser page';

const spec = {
  model: { type: 'string', short: 'm', metavar: 'MODEL.nemo', help: 'a CTC, RNN-T or hybrid RNN-T/CTC (its CTC head) .nemo (streamnest finetune, or NeMo)' },
  host: { type: 'string', default: '127.0.0.1', metavar: 'ADDR', help: 'address to listen on (0.0.0.0 for every interface)' },
  port: { type: 'integer', default: 6006, metavar: 'N', help: 'TCP port (0: any free port)' },
  maxStreams: { type: 'integer', default: 64, metavar: 'N', help: 'streams open at once; more are closed with 1013' },
  maxBatchSize: { type: 'integer', default: 32, metavar: 'N', help: 'streams decoded together in one encoder call' },
  batchWaitMs: {
    type: 'number',
    default: 50,
    metavar: 'MS',
    help: 'how long a ready stream may wait for others to join its batch (0: decode at once)',
  },
  maxMessageBytes: { type: 'integer', default: 1048576, metavar: 'BYTES', help: 'largest WebSocket message (1009 above it)' },
  idleSeconds: { type: 'number', default: 30, metavar: 'SECONDS', help: 'a stream with no message for this long is ended (1008)' },
  sampleRate: { type: 'integer', default: 16000, metavar: 'HZ', help: "the clients' sample rate (resampled to the model's)" },
  chunkSize: { type: 'number', default: 0.32, metavar: 'SECONDS', help: 'encoder chunk of fully causal models (whole encoder frames)' },
  attContextSize: { type: 'string', metavar: 'L,R', help: "attention context to stream with (one of a multi-lookahead model's pairs)" },
  maxContext: {
    type: 'integer',
    default: 1000,
    metavar: 'FRAMES',
    help: 'attention cache of unlimited-left-context models; per-stream cost grows with it (exact up to this many frames)',
  },
  latencyBudgetMs: {
    type: 'number',
    metavar: 'MS',
    help: 'adaptive look-ahead for the default streams: before each decode take the largest trained look-ahead whose algorithmic latency plus measured compute fits MS',
  },
  noEndpoint: { type: 'boolean', help: 'no endpointing: one segment per stream' },
  quiet: { type: 'boolean', help: 'no log lines' },
} satisfies OptionsSpec;

export const usage = `Usage: streamnest serve --model MODEL.nemo [--host 127.0.0.1] [--port 6006] [--max-streams N] [--max-batch-size N]

${summary}.

Options:
${formatOptions(spec)}

Protocol (sherpa-onnx's online WebSocket protocol; its clients work unchanged): send binary messages of float32
little-endian samples at --sample-rate, then the text 'Done'. The server answers each decoded chunk with a JSON
text message {text, tokens, timestamps, segment, start_time, is_final, is_eof, word_timestamps, decoded_seconds,
contexts_used, compute_ms, chunk_ms}, and 'Done!' after the last one. Close codes: 1000 done, 1001 shutting down, 1003 unexpected text,
1007 bad samples (length not a multiple of 4, NaN/Inf), 1008 audio after 'Done' or idle, 1009 message too big,
1011 decoding failed, 1013 too many streams.
A multi-look-ahead model serves each trained [left, right] pair: clients pick one with ws://HOST:PORT/?att_context_size=L,R.
With --latency-budget-ms, streams that pick none switch look-ahead chunk by chunk to stay within the budget as load changes.
HTTP on the same port: / (the browser page), /health (JSON), /metrics (Prometheus).

Example:
  streamnest serve --model model.nemo --port 6006
  # then open http://127.0.0.1:6006/ or run sherpa-onnx's online-websocket-client-decode-file.py`;

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, spec, { maxPositionals: 0 });
  if (!options.model) throw new ArgError(`serve: --model MODEL.nemo is required\n\n${usage}`);
  const { startServer } = await import('../../serving/server.js');
  const log = options.quiet ? undefined : (line: string) => process.stderr.write(`streamnest: ${line}\n`);
  const server = await startServer({
    model: options.model,
    recognizer: {
      chunkSeconds: options.chunkSize,
      attContextSize: options.attContextSize === undefined ? undefined : parseContextPair(options.attContextSize, '--att-context-size'),
      maxContext: options.maxContext,
      latencyBudgetMs: options.latencyBudgetMs,
      enableEndpoint: !options.noEndpoint,
    },
    host: options.host,
    port: options.port,
    maxStreams: options.maxStreams,
    maxBatchSize: options.maxBatchSize,
    batchWaitMs: options.batchWaitMs,
    maxMessageBytes: options.maxMessageBytes,
    idleSeconds: options.idleSeconds,
    sampleRate: options.sampleRate,
    log,
  });
  // the line clients and scripts wait for (with the port actually bound)
  process.stdout.write(`streamnest: listening on ${server.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      log?.(`${sig}: finishing ${server.streams} open stream(s)`);
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      server.close().then(resolve, resolve);
    };
    const onTerm = (): void => stop('SIGTERM');
    const onInt = (): void => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
  log?.('stopped');
  return 0;
}
