// The browser page (web/) end to end: `streamnest serve` in-process on a small random CTC model, Debian's chromium
// headless driven by puppeteer-core, the page's test hooks (window.streamnest, documented at the top of web/app.js).
//
// File: the page decodes a 16 kHz WAV at 16 kHz (no resampling, so the samples are exact) and sends it; its final text
// must equal `streamnest transcribe --streaming --json` on the same WAV.
//
// Microphone: Chromium's fake capture device plays a WAV (`--use-file-for-fake-audio-capture=PATH%noloop`: once, then
// silence). Its samples cannot equal the file's: Chromium resamples the 16 kHz file to the device rate and again to
// the AudioContext's (44.1 kHz headless), the page resamples that to 16 kHz (the band near 8 kHz is filtered out),
// and the capture starts a little into the file (what plays before the audio graph is connected is lost: 10 to 40 ms
// in runs here). The random test model's letters change with such a shift, so what is
// asserted is: results arrived while the microphone was streaming; the final text is non-empty and equals the CLI's
// transcript of exactly the samples the page sent (recorded by the page and written as a float WAV: the server treats
// the microphone's stream as it treats a file); those samples contain the clip (its loudest half second correlates
// >= 0.8 at one offset: capture and resampling work); and the text is most of the CLI's text of the microphone's WAV
// (edit-distance similarity >= 0.5; simulated with the 44.1 kHz round trip and every start loss from 0 to 500 ms in
// 5 ms steps, this model gives 0.57 at worst, 0.70 on average).
//
// Skipped when chromium is not installed. STREAMNEST_SCREENSHOT=1 also saves docs/images/serve-page.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { loadAudio, writeWav } from '../../src/audio/index.js';
import { repoRoot } from '../../src/data/corpus.js';
import { startServer, type RunningServer } from '../../src/serving/index.js';
import { writeServingModel } from './model.js';

const root = repoRoot();
const CHROMIUM = [process.env.STREAMNEST_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && existsSync(p));
const RATE = 16000;
const LONG = 180_000; // generous: the machine may be busy

interface PageState {
  done: boolean;
  error: string | null;
  status: string;
  text: string;
  results: number;
  resultsWhileStreaming: number;
  samplesSent: number;
  captureRate: number | null;
}

declare global {
  interface Window {
    streamnest: {
      done: boolean;
      error: string | null;
      status: string;
      results: number;
      resultsWhileStreaming: number;
      samplesSent: number;
      captureRate: number | null;
      recordSent: boolean;
      finalText(): string;
      chunkMs(): number | null;
      startMic(): Promise<void>;
      stop(): void;
      sendFile(src: string | Blob, o?: { realtime?: boolean }): Promise<void>;
      sentSamples(): Float32Array;
      Resampler: new (inRate: number, outRate: number) => { push(x: Float32Array): Float32Array; flush(): Float32Array };
    };
  }
}

const state = (page: Page): Promise<PageState> =>
  page.evaluate(() => {
    const s = window.streamnest;
    return {
      done: s.done,
      error: s.error,
      status: s.status,
      text: s.finalText(),
      results: s.results,
      resultsWhileStreaming: s.resultsWhileStreaming,
      samplesSent: s.samplesSent,
      captureRate: s.captureRate,
    };
  });

/** `streamnest transcribe --streaming --json`'s text for a file. */
/** Drops the file on the page as a user would (as fast as the server takes it) and waits for the last result. */
async function sendFile(page: Page, path: string): Promise<void> {
  const b64 = readFileSync(path).toString('base64');
  await page.evaluate(async (data: string) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    await window.streamnest.sendFile(new Blob([bytes], { type: 'audio/wav' }), { realtime: false });
  }, b64);
  await page.waitForFunction(() => window.streamnest.done, { timeout: LONG, polling: 100 });
}

async function cliText(model: string, audio: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(root, 'dist', 'src', 'cli', 'main.js'), 'transcribe', '--model', model, '--audio', audio, '--streaming', '--json'],
    { maxBuffer: 1 << 24 },
  );
  return (JSON.parse(stdout) as { text: string }).text;
}

/** A mono IEEE-float WAV (keeps float32 samples exactly). */
function writeFloatWav(path: string, x: Float32Array, rate: number): void {
  const b = Buffer.alloc(44 + 4 * x.length);
  b.write('RIFF', 0, 'ascii');
  b.writeUInt32LE(36 + 4 * x.length, 4);
  b.write('WAVEfmt ', 8, 'ascii');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(3, 20); // WAVE_FORMAT_IEEE_FLOAT
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(4 * rate, 28);
  b.writeUInt16LE(4, 32);
  b.writeUInt16LE(32, 34);
  b.write('data', 36, 'ascii');
  b.writeUInt32LE(4 * x.length, 40);
  for (let i = 0; i < x.length; i++) b.writeFloatLE(x[i]!, 44 + 4 * i);
  writeFileSync(path, b);
}

/** 1 - (Levenshtein distance) / (longer length). */
function similarity(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return 1 - prev[b.length]! / Math.max(1, a.length, b.length);
}

/** Where `clip` best matches within `x`: the offset of clip[0] and the normalized correlation of its loudest half second. */
function locate(x: Float32Array, clip: Float32Array): { offset: number; correlation: number } {
  const n = RATE / 2;
  let at = 0;
  let loudest = -1;
  for (let i = 0; i + n <= clip.length; i += n / 4) {
    let e = 0;
    for (let j = 0; j < n; j++) e += clip[i + j]! ** 2;
    if (e > loudest) [loudest, at] = [e, i];
  }
  const ex = clip.subarray(at, at + n);
  let best = { offset: 0, correlation: -1 };
  for (let d = 0; d + n <= x.length; d++) {
    let dot = 0;
    let ee = 0;
    for (let j = 0; j < n; j++) {
      dot += x[d + j]! * ex[j]!;
      ee += x[d + j]! ** 2;
    }
    const c = ee > 0 ? dot / Math.sqrt(ee * loudest) : 0;
    if (c > best.correlation) best = { offset: d - at, correlation: c };
  }
  return best;
}

test('the browser page streams a file and the microphone through `streamnest serve` and shows the results', { timeout: 900_000 }, async (t) => {
  if (!CHROMIUM) {
    t.skip('chromium is not installed (apt-get install chromium, or set STREAMNEST_CHROMIUM): the browser page test needs it');
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'streamnest-page-'));
  let server: RunningServer | null = null;
  let browser: Browser | null = null;
  try {
    const model = join(tmp, 'm.nemo');
    writeServingModel(model).dispose();
    const clipPath = join(root, 'data', 'corpus', 'val', 'val-00000.wav');
    const clip = loadAudio(clipPath, { targetSampleRate: RATE }).samples;
    // the microphone's WAV: half a second of silence (so the start the capture loses is silence), then the clip
    const micWav = join(tmp, 'mic.wav');
    const lead = RATE / 2;
    const micAudio = new Float32Array(lead + clip.length);
    micAudio.set(clip, lead);
    writeWav(micWav, micAudio, RATE);
    const expected = await cliText(model, clipPath);
    const expectedMic = await cliText(model, micWav);
    assert.ok(expected.length > 5, `the CLI's text is long enough to compare: ${JSON.stringify(expected)}`);

    server = await startServer({ model, port: 0 });
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: LONG,
      protocolTimeout: LONG,
      args: [
        '--no-sandbox',
        '--disable-dev-shm-usage',
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
        `--use-file-for-fake-audio-capture=${micWav}%noloop`,
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
    const page = await browser.newPage();
    await page.setViewport({ width: 1000, height: 800 });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push((e as Error).message));
    await page.goto(server.url, { waitUntil: 'load', timeout: LONG });
    await page.waitForFunction(() => window.streamnest !== undefined, { timeout: LONG });
    const doneOpts = { timeout: LONG, polling: 100 };

    await t.test("the page's resampler: tones pass, aliases are removed, pieces give what the whole gives", async () => {
      const rows = await page.evaluate(() => {
        const out: { case: string; outputs: number; expected: number; samePieces: boolean; maxErr: number; rms: number }[] = [];
        for (const [rin, rout, f] of [
          [44100, 16000, 1000],
          [48000, 16000, 3000],
          [44100, 16000, 10000],
          [8000, 16000, 1000],
          [44101, 16000, 1000],
          [16000, 16000, 1000],
        ] as const) {
          const x = Float32Array.from({ length: rin }, (_, i) => Math.sin((2 * Math.PI * f * i) / rin));
          const whole = new window.streamnest.Resampler(rin, rout);
          const y = [...whole.push(x), ...whole.flush()];
          const pieces = new window.streamnest.Resampler(rin, rout);
          const z: number[] = [];
          for (let i = 0, k = 1; i < x.length; i += k, k = (k * 7 + 13) % 3001) z.push(...pieces.push(x.subarray(i, i + k)));
          z.push(...pieces.flush());
          let maxErr = 0;
          let rms = 0;
          for (let m = 300; m < y.length - 300; m++) {
            maxErr = Math.max(maxErr, Math.abs(y[m]! - Math.sin((2 * Math.PI * f * m) / rout)));
            rms += y[m]! ** 2 / (y.length - 600);
          }
          const samePieces = z.length === y.length && z.every((v, i) => v === y[i]);
          out.push({
            case: `${rin} -> ${rout} Hz, ${f} Hz tone`,
            outputs: y.length,
            expected: Math.ceil((rin * rout) / rin),
            samePieces,
            maxErr,
            rms: Math.sqrt(rms),
          });
        }
        return out;
      });
      for (const r of rows) {
        assert.equal(r.outputs, r.expected, r.case);
        assert.ok(r.samePieces, `${r.case}: uneven pieces give the same samples as the whole`);
        if (r.case.includes('10000 Hz')) assert.ok(r.rms < 1e-4, `${r.case}: above 8 kHz is removed (rms ${r.rms})`);
        else assert.ok(r.maxErr < 1e-4, `${r.case}: max error ${r.maxErr}`);
      }
    });

    await t.test('a dropped/chosen file: the final text is exactly the CLI transcript', async () => {
      await sendFile(page, clipPath);
      const s = await state(page);
      assert.equal(s.error, null, s.status);
      assert.match(s.status, /^done/);
      assert.equal(s.samplesSent, clip.length, 'the whole file, sample-exact');
      assert.ok(s.results > 3, `${s.results} results`);
      assert.equal(s.text, expected);
    });

    await t.test('the microphone: results while streaming; the text is the CLI transcript of the samples sent', async () => {
      await page.evaluate(async () => {
        window.streamnest.recordSent = true;
        await window.streamnest.startMic();
      });
      // the fake device plays the WAV once (then silence); stop half a second after it has all gone out
      await page.waitForFunction((n: number) => window.streamnest.samplesSent >= n || window.streamnest.done, doneOpts, micAudio.length + RATE / 2);
      const streaming = await state(page);
      assert.equal(streaming.error, null, streaming.status);
      await page.evaluate(() => window.streamnest.stop());
      await page.waitForFunction(() => window.streamnest.done, doneOpts);
      const s = await state(page);
      assert.equal(s.error, null, s.status);
      assert.ok(s.resultsWhileStreaming > 3, `${s.resultsWhileStreaming} of ${s.results} results arrived while streaming`);
      assert.ok(s.text.length > 0, 'a non-empty final text');
      const b64 = await page.evaluate(() => {
        const x = window.streamnest.sentSamples();
        const u8 = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
        let bin = '';
        for (let i = 0; i < u8.length; i += 0x8000) bin += String.fromCharCode(...u8.subarray(i, i + 0x8000));
        return btoa(bin);
      });
      const buf = Buffer.from(b64, 'base64');
      const sent = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      assert.equal(sent.length, s.samplesSent);
      const sentWav = join(tmp, 'sent.wav');
      writeFloatWav(sentWav, sent, RATE);
      assert.equal(s.text, await cliText(model, sentWav), 'the final text is the CLI transcript of the samples the page sent');
      const where = locate(sent, clip);
      t.diagnostic(
        `microphone: AudioContext at ${s.captureRate} Hz; the clip starts at sample ${where.offset} of what was sent (${lead} in the WAV), ` +
          `correlation ${where.correlation.toFixed(4)}; text ${JSON.stringify(s.text)}, CLI on the WAV ${JSON.stringify(expectedMic)}, similarity ${similarity(s.text, expectedMic).toFixed(3)}`,
      );
      assert.ok(where.correlation >= 0.8, `the sent audio contains the clip (correlation ${where.correlation})`);
      assert.ok(where.offset >= 0 && where.offset <= lead + RATE / 10, `the clip starts at sample ${where.offset} of what was sent (${lead} in the WAV)`);
      const sim = similarity(s.text, expectedMic);
      assert.ok(sim >= 0.5, `most of the CLI's text of the WAV: ${JSON.stringify(s.text)} vs ${JSON.stringify(expectedMic)} (similarity ${sim.toFixed(3)})`);
    });

    if (process.env.STREAMNEST_SCREENSHOT === '1') {
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      await page.screenshot({ path: join(root, 'docs', 'images', 'serve-page.png'), fullPage: true });
    }

    await t.test('a multi-look-ahead model: the page lists its attention contexts and streams with the one chosen', async () => {
      const multi = join(tmp, 'multi.nemo');
      const m = writeServingModel(multi, 'chunked_limited', [
        [-1, 4],
        [-1, 1],
        [-1, 0],
      ]);
      m.encoder.context.setDefault([-1, 0]);
      const want = m.transcribe([clip])[0]!.text;
      m.dispose();
      const other = await startServer({ model: multi, port: 0 });
      try {
        await page.goto(other.url, { waitUntil: 'load', timeout: LONG });
        await page.waitForFunction(() => window.streamnest !== undefined && !document.getElementById('context-label')!.hidden, { timeout: LONG });
        const options = await page.$$eval('#context option', (os) => os.map((o) => (o as HTMLOptionElement).value));
        assert.deepEqual(options, ['-1,4', '-1,1', '-1,0']);
        await page.select('#context', '-1,0');
        await sendFile(page, clipPath);
        const s = await state(page);
        assert.equal(s.error, null, s.status);
        assert.equal(s.text, want, 'the transcript of the chosen context [-1, 0]');
        assert.equal(await page.evaluate(() => window.streamnest.chunkMs()), 80, 'streamed in [-1, 0] chunks (one 80 ms frame)');
      } finally {
        await other.close();
        await page.goto(server!.url, { waitUntil: 'load', timeout: LONG });
        await page.waitForFunction(() => window.streamnest !== undefined, { timeout: LONG });
      }
    });

    await t.test('a server that shuts down mid-stream: the page ends in an error that shows the close code', async () => {
      await page.evaluate(() => window.streamnest.startMic());
      await page.waitForFunction(() => window.streamnest.results >= 2 || window.streamnest.done, doneOpts);
      await server!.close();
      await page.waitForFunction(() => window.streamnest.done, doneOpts);
      const s = await state(page);
      // the server ends the input, sends the last results and Done!, then closes with 1001 (microphone audio still on
      // its way is dropped); the page shows that as an error with the code and reason
      assert.match(s.error ?? '', /^closed with code 1001: server shutting down after Done!$/);
      assert.equal(s.status, `error: ${s.error}`);
      t.diagnostic(`server shutdown mid-stream: the page says ${JSON.stringify(s.status)}`);
    });
    assert.deepEqual(pageErrors, [], 'no uncaught errors on the page');
  } finally {
    await browser?.close();
    await server?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
