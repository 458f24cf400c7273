// The WebSocket server with real clients (the `ws` package) over real sockets: concurrent streams batched and each
// equal to its offline transcript, segments, /health and /metrics, the page's static files, hostile clients (each
// closed with its documented code while a good stream goes on unharmed), and a graceful shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAudio } from '../../src/audio/index.js';
import { repoRoot } from '../../src/data/corpus.js';
import * as t from '../../src/torch/index.js';
import { CLOSE, OnlineRecognizer, startServer } from '../../src/serving/index.js';
import { bytes, collect, connect, streamAudio } from './client.js';
import { writeServingModel } from './model.js';

const tmp = mkdtempSync(join(tmpdir(), 'streamnest-serve-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const clip = (i: number): Float32Array => loadAudio(join(repoRoot(), 'data', 'corpus', 'val', `val-0000${i}.wav`), { targetSampleRate: 16000 }).samples;

test('five concurrent clients: each gets its own transcript, in order, batched with the others; /health and /metrics report it', async () => {
  const m = writeServingModel(join(tmp, 'm.nemo'));
  const clips = [0, 1, 2, 3, 4].map(clip);
  const expectations = clips.map((a) => m.transcribe([a])[0]!); // (the model caches a tensor at its first forward)
  const before = t.liveTensorCount();
  const rec = new OnlineRecognizer(m, { enableEndpoint: false });
  const server = await startServer({ model: rec, port: 0, webRoot: null });
  try {
    const runs = await Promise.all(clips.map((a, i) => streamAudio(server.url, a, { piece: 1200 + 700 * i, gapMs: 2 })));
    for (const [i, run] of runs.entries()) {
      assert.equal(run.closeCode, CLOSE.normal, run.closeReason);
      assert.deepEqual(run.texts, ['Done!']);
      const last = run.results.at(-1)!;
      assert.equal(last.is_eof, true);
      assert.equal(last.is_final, true);
      assert.equal(run.results.filter((r) => r.is_eof).length, 1, 'one last result');
      const expected = expectations[i]!;
      assert.ok(expected.text.length > 3);
      assert.equal(last.text, expected.text, `client ${i}`);
      // partial results only grow (one segment), and carry the step's timing
      for (const [k, r] of run.results.entries()) {
        if (k > 0) assert.ok((r.text as string).startsWith(run.results[k - 1]!.text as string));
        assert.equal(r.chunk_ms, 320);
        assert.ok((r.compute_ms as number) > 0);
        assert.equal((r.tokens as string[]).length, (r.timestamps as number[]).length);
      }
      assert.deepEqual(
        last.timestamps,
        expected.tokens.map((k) => Math.round(k.frame * m.frameSeconds * 1e6) / 1e6),
      );
    }
    const health = (await (await fetch(`${server.url}health`)).json()) as { status: string; streams: number };
    assert.deepEqual([health.status, health.streams], ['ok', 0]);
    const metrics = await (await fetch(`${server.url}metrics`)).text();
    assert.match(metrics, /^streamnest_streams_total 5$/m);
    assert.match(metrics, /^streamnest_streams_active 0$/m);
    assert.match(metrics, /^streamnest_connections_closed_total\{code="1000"\} 5$/m);
    const steps = Number(/^streamnest_decode_steps_total (\d+)$/m.exec(metrics)![1]);
    const batched = Number(/^streamnest_batch_size_sum (\d+)$/m.exec(metrics)![1]);
    assert.ok(steps > 0 && batched >= steps, `${steps} steps, ${batched} stream-steps`);
    assert.match(metrics, /^streamnest_step_latency_seconds_bucket\{le="\+Inf"\} \d+$/m);
    const audio = Number(/^streamnest_audio_seconds_total ([\d.]+)$/m.exec(metrics)![1]);
    assert.ok(Math.abs(audio - clips.reduce((s, a) => s + a.length / 16000, 0)) < 1e-3);
  } finally {
    await server.close();
  }
  assert.equal(rec.activeStreams, 0);
  rec.dispose();
  assert.equal(t.liveTensorCount(), before, 'every stream was freed');
  m.dispose();
});

test('endpoints: results end segments with is_final, and the segments together are the transcript', async () => {
  const m = writeServingModel(join(tmp, 'e.nemo'));
  const server = await startServer({ model: join(tmp, 'e.nemo'), recognizer: { endpoint: { rule3: { minUtteranceLength: 0.64 } } }, port: 0, webRoot: null });
  try {
    const a = clip(0);
    const run = await streamAudio(server.url, a, { piece: 4000 });
    const finals = run.results.filter((r) => r.is_final);
    assert.ok(finals.length >= 3, `${finals.length} segments`);
    assert.deepEqual(
      finals.map((r) => r.segment),
      finals.map((_, i) => i),
    );
    const tokens = finals.flatMap((r) => r.tokens as string[]).join('');
    const expected = m.transcribe([a])[0]!;
    assert.equal(tokens, expected.tokens.map((k) => m.vocab.labels[k.id]).join(''));
    assert.equal(finals.at(-1)!.is_eof, true);
  } finally {
    await server.close();
    m.dispose();
  }
});

test('the page: / and its files are served; nothing outside the folder is; unknown paths are 404', async () => {
  const web = join(tmp, 'web');
  mkdirSync(web, { recursive: true });
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>streamnest</title>');
  writeFileSync(join(web, 'app.js'), 'console.log(1);');
  writeFileSync(join(tmp, 'secret.js'), 'secret');
  const m = writeServingModel(join(tmp, 'p.nemo'));
  const rec = new OnlineRecognizer(m);
  const server = await startServer({ model: rec, port: 0, webRoot: web });
  try {
    const index = await fetch(server.url);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type')!, /text\/html/);
    assert.match(await index.text(), /<title>streamnest<\/title>/);
    const app = await fetch(`${server.url}app.js`);
    assert.match(app.headers.get('content-type')!, /javascript/);
    for (const p of ['../secret.js', '%2e%2e/secret.js', '..%2fsecret.js', 'nope.js', '.hidden.js', 'app.exe']) {
      const r = await fetch(`${server.url}${p}`);
      assert.equal(r.status, 404, p);
      await r.text();
    }
    const post = await fetch(server.url, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
  } finally {
    await server.close();
    rec.dispose();
    m.dispose();
  }
});

test('hostile clients get their documented close codes; the server stays up and a good stream is unharmed', async () => {
  const m = writeServingModel(join(tmp, 'h.nemo'));
  const good = clip(1);
  const goodText = m.transcribe([good])[0]!.text;
  const before = t.liveTensorCount();
  const rec = new OnlineRecognizer(m, { enableEndpoint: false });
  const server = await startServer({ model: rec, port: 0, webRoot: null, maxStreams: 8, maxMessageBytes: 64 * 1024, idleSeconds: 1 });
  try {
    const goodRun = streamAudio(server.url, good, { piece: 1600, gapMs: 20 });
    const a = clip(2).subarray(0, 8000);
    async function hostile(act: (ws: import('ws').WebSocket) => void): Promise<{ code: number; reason: string; texts: string[]; results: number }> {
      const ws = await connect(server.url);
      const got = collect(ws);
      act(ws);
      const r = await got;
      return { code: r.closeCode, reason: r.closeReason, texts: r.texts, results: r.results.length };
    }
    const nan = a.slice();
    nan[10] = Number.NaN;
    const inf = a.slice();
    inf[3] = Number.NEGATIVE_INFINITY;
    const [text, odd, badNaN, badInf, huge, idle, after] = await Promise.all([
      hostile((ws) => ws.send('hello')),
      hostile((ws) => ws.send(Buffer.from([1, 2, 3, 4, 5]))),
      hostile((ws) => ws.send(bytes(nan))),
      hostile((ws) => ws.send(bytes(inf))),
      hostile((ws) => ws.send(Buffer.alloc(64 * 1024 + 4))),
      hostile((ws) => ws.send(bytes(a))), // never sends Done
      hostile((ws) => {
        ws.send(bytes(a));
        ws.send('Done');
        ws.send(bytes(a));
      }),
    ]);
    assert.equal(text.code, CLOSE.unsupportedData, text.reason);
    assert.match(text.reason, /expected binary float32 samples or the text 'Done'/);
    assert.equal(odd.code, CLOSE.invalidPayload);
    assert.match(odd.reason, /5 bytes/);
    assert.equal(badNaN.code, CLOSE.invalidPayload);
    assert.match(badNaN.reason, /sample 10 of the message is NaN/);
    assert.equal(badInf.code, CLOSE.invalidPayload);
    assert.equal(huge.code, CLOSE.messageTooBig);
    assert.equal(idle.code, CLOSE.policyViolation);
    assert.match(idle.reason, /no message for 1 s/);
    assert.deepEqual(idle.texts, ['Done!'], 'an idle stream still gets its results');
    assert.ok(idle.results > 0);
    assert.equal(after.code, CLOSE.policyViolation);
    assert.match(after.reason, /audio after 'Done'/);
    // a client that disconnects mid-stream
    const ws = await connect(server.url);
    ws.send(bytes(a));
    ws.terminate();
    // a flood: more connections than --max-streams
    const flood = await Promise.all(
      Array.from({ length: 12 }, () => connect(server.url).then((w) => collect(w).then((r) => ({ r, w })))).map((p) =>
        Promise.race([p, new Promise<null>((res) => setTimeout(() => res(null), 3000))]),
      ),
    );
    const refused = flood.filter((f) => f && f.r.closeCode === CLOSE.tryAgainLater);
    assert.ok(refused.length >= 12 - 8, `${refused.length} refused`);
    assert.match(refused[0]!.r.closeReason, /too many streams \(8 open\)/);
    const goodResult = await goodRun;
    assert.equal(goodResult.closeCode, CLOSE.normal);
    assert.equal(goodResult.results.at(-1)!.text, goodText, 'the good stream is unharmed');
    const health = (await (await fetch(`${server.url}health`)).json()) as { status: string };
    assert.equal(health.status, 'ok');
  } finally {
    await server.close();
  }
  assert.equal(rec.activeStreams, 0);
  rec.dispose();
  assert.equal(t.liveTensorCount(), before, 'every stream was freed, hostile ones too');
  m.dispose();
});

test('close(): open streams get their remaining results and Done!, then 1001; new connections are refused', async () => {
  const m = writeServingModel(join(tmp, 's.nemo'));
  const rec = new OnlineRecognizer(m, { enableEndpoint: false });
  const server = await startServer({ model: rec, port: 0, webRoot: null });
  const a = clip(3);
  const half = a.subarray(0, a.length >> 1);
  const ws = await connect(server.url);
  const got = collect(ws);
  ws.send(bytes(half));
  // wait until the server has the audio (a result arrives), then shut down
  await new Promise<void>((resolve) => ws.once('message', () => resolve()));
  await server.close();
  const run = await got;
  assert.equal(run.closeCode, CLOSE.goingAway);
  assert.deepEqual(run.texts, ['Done!']);
  assert.equal(run.results.at(-1)!.is_eof, true);
  assert.equal(run.results.at(-1)!.text, m.transcribe([half])[0]!.text, 'the half that was sent is transcribed whole');
  await assert.rejects(connect(server.url));
  rec.dispose();
  m.dispose();
});

test('backpressure: a client sending a minute of audio at once is read as decoding catches up, and loses nothing', async () => {
  const m = writeServingModel(join(tmp, 'b.nemo'));
  const src = clip(0);
  const a = Float32Array.from({ length: 60 * 16000 }, (_, i) => src[i % src.length]!); // the clip repeated: speech throughout
  const expected = m.transcribe([a])[0]!.text;
  const rec = new OnlineRecognizer(m, { enableEndpoint: false });
  const server = await startServer({ model: rec, port: 0, webRoot: null, maxBufferedSeconds: 2 });
  try {
    const run = await streamAudio(server.url, a, { piece: 16000 });
    assert.equal(run.closeCode, CLOSE.normal, run.closeReason);
    assert.equal(run.results.at(-1)!.text, expected);
    const metrics = await (await fetch(`${server.url}metrics`)).text();
    const pauses = Number(/^streamnest_backpressure_pauses_total (\d+)$/m.exec(metrics)![1]);
    assert.ok(pauses > 0, 'the connection was paused');
  } finally {
    await server.close();
    rec.dispose();
    m.dispose();
  }
});

test('bad options are refused by name before the model loads', async () => {
  await assert.rejects(startServer({ model: join(tmp, 'missing.nemo'), maxStreams: 0 }), /serve: maxStreams must be a whole number >= 1, got 0/);
  await assert.rejects(startServer({ model: join(tmp, 'missing.nemo'), batchWaitMs: -1 }), /serve: batchWaitMs must be >= 0/);
  await assert.rejects(startServer({ model: join(tmp, 'missing.nemo'), port: 0 }), /missing\.nemo/);
});

test("a multi-look-ahead model: each client picks a trained attention context (?att_context_size=L,R) and gets that context's transcript", async () => {
  const contexts = [
    [-1, 4],
    [-1, 1],
    [-1, 0],
  ];
  const m = writeServingModel(join(tmp, 'multi.nemo'), 'chunked_limited', contexts);
  const a = clip(2);
  const expected = new Map<string, string>();
  for (const pair of contexts) {
    m.encoder.context.setDefault(pair as [number, number]);
    expected.set(pair.join(','), m.transcribe([a])[0]!.text);
  }
  m.encoder.context.setDefault([-1, 4]);
  assert.ok([...expected.values()].every((x) => x.length > 3));
  const server = await startServer({ model: join(tmp, 'multi.nemo'), recognizer: { enableEndpoint: false }, port: 0, webRoot: null });
  try {
    const health = (await (await fetch(`${server.url}health`)).json()) as { attContextSizes: number[][]; defaultAttContextSize: number[] };
    assert.deepEqual(health.attContextSizes, contexts);
    assert.deepEqual(health.defaultAttContextSize, [-1, 4]);
    const runs = await Promise.all([
      streamAudio(server.url, a, { piece: 2000 }),
      streamAudio(`${server.url}?att_context_size=-1,1`, a, { piece: 2000 }),
      streamAudio(`${server.url}?att_context_size=[-1,0]`, a, { piece: 2000 }),
    ]);
    assert.deepEqual(
      runs.map((r) => r.results.at(-1)!.text),
      [expected.get('-1,4'), expected.get('-1,1'), expected.get('-1,0')],
    );
    assert.deepEqual(
      runs.map((r) => r.results[0]!.chunk_ms),
      [400, 160, 80],
      'each context streams in its own chunk (right + 1 frames of 80 ms)',
    );
    for (const bad of ['?att_context_size=-1,2', '?att_context_size=soon']) {
      const ws = await connect(`${server.url}${bad}`);
      const r = await collect(ws);
      assert.equal(r.closeCode, CLOSE.policyViolation, bad);
      assert.match(r.closeReason, /att_context_size/);
    }
  } finally {
    await server.close();
    m.dispose();
  }
});
