// streamnest live page: streams the microphone or an audio file to `streamnest serve` over its WebSocket and shows the
// results as they arrive. Plain JS (a classic script, no bundler, no external resources), Chromium and Firefox.
//
// Protocol (sherpa-onnx's online protocol; nothing else of the server is used): the page opens ws(s)://<this host>/,
// sends binary messages of float32 little-endian mono samples at 16000 Hz and the text `Done` to end; the server
// answers one JSON result per decoded chunk ({text, tokens, timestamps, segment, start_time, is_final, is_eof,
// word_timestamps, compute_ms, chunk_ms}) and, after the last one (is_eof), the text `Done!`, then closes.
// `?ws=ws://host:port/` overrides the WebSocket address.
//
// Microphone: getUserMedia (no echo cancellation, noise suppression or gain control) -> AudioWorklet at the
// AudioContext's own rate -> blocks to this thread -> a Kaiser-windowed sinc resampler to 16 kHz (polyphase, state
// carried across blocks; exact copy when the rate is already 16 kHz) -> WebSocket. File: decodeAudioData in an
// OfflineAudioContext at 16000 Hz (so a 16 kHz file arrives sample-exact), mixed to mono, sent in 100 ms pieces,
// paced in real time or as fast as the socket takes them.
//
// Test hooks, window.streamnest (one session at a time; starting another resets the state):
//   startMic(): Promise<void>            connects and starts capturing; resolves once audio flows to the socket
//   sendFile(src, {realtime}?): Promise<void>
//                                        src: URL string, Blob or File; resolves once all audio and `Done` are sent
//   stop(): void                         ends the input: the microphone's last samples, then `Done`
//   finalText(): string                  all finished segments' text joined with ' ' (empty segments skipped)
//   partialText(): string                the current segment's live text
//   chunkMs(): number | null             the last result's chunk_ms (the chosen context's chunk)
//   segments(): {segment, startTime, text, words}[]   the finished segments
//   whenDone(): Promise<void>            resolves when the connection has ended (see done / error)
//   done: boolean                        the connection has ended (after `Done!`, or with an error)
//   error: string | null                 why it ended abnormally ("closed with code 1011: ...", "microphone: ...")
//   status: string                       the status line's text
//   results: number                      JSON results received in this session
//   resultsWhileStreaming: number        of those, the ones that arrived before the input ended (stop / file end)
//   samplesSent: number                  16 kHz samples sent
//   captureRate: number | null           the microphone's AudioContext rate
//   recordSent: boolean                  set true before starting to keep a copy of what is sent: sentSamples()
//   sentSamples(): Float32Array          the samples sent (when recordSent was true)
//   Resampler                            the microphone's resampler: new Resampler(inRate, outRate), push(x), flush()

(() => {
  const RATE = 16000;
  const PIECE = RATE / 10; // a file is sent in 100 ms pieces
  const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

  const $ = (id) => document.getElementById(id);
  const delay = (ms) => new Promise((r) => setTimeout(r, ms));
  const ui = {
    status: $('status'),
    mic: $('mic'),
    file: $('file'),
    drop: $('drop'),
    realtime: $('realtime'),
    stop: $('stop'),
    segments: $('segments'),
    partial: $('partial'),
    chart: $('chart'),
    rtf: $('rtf'),
    sent: $('sent'),
    context: $('context'),
    contextLabel: $('context-label'),
  };

  // ---- resampling -------------------------------------------------------------------------------------------------

  const gcd = (a, b) => (b === 0 ? a : gcd(b, a % b));

  /** Modified Bessel function of the first kind, order 0 (for the Kaiser window). */
  function besselI0(x) {
    let sum = 1;
    let term = 1;
    for (let k = 1; k < 50; k++) {
      term *= (x / (2 * k)) ** 2;
      sum += term;
      if (term < sum * 1e-12) break;
    }
    return sum;
  }

  /**
   * Streaming band-limited resampler: output n is the input at n * inRate / outRate, interpolated with a Kaiser-windowed
   * sinc whose cutoff is 0.945 of the lower Nyquist frequency (anti-aliasing when downsampling). Polyphase table for the
   * rational ratio (quantized to 2048 phases when the ratio's denominator is larger). push(block) returns the outputs
   * the block completes; flush() pads the end with zeros and returns the rest, ceil(inputs * outRate / inRate) in all.
   */
  class Resampler {
    constructor(inRate, outRate, zeros = 24, rolloff = 0.945, beta = 8.6) {
      this.identity = inRate === outRate;
      const g = gcd(inRate, outRate);
      this.L = outRate / g; // output step = M / L input samples
      this.M = inRate / g;
      this.P = Math.min(this.L, 2048);
      const fc = 0.5 * Math.min(1, this.L / this.M) * rolloff; // cycles per input sample
      this.half = Math.ceil(zeros / (2 * fc));
      const taps = 2 * this.half;
      this.taps = taps;
      this.table = new Float32Array((this.P + 1) * taps);
      const i0b = besselI0(beta);
      for (let p = 0; p <= this.P; p++) {
        const frac = p / this.P;
        let sum = 0;
        const row = new Float64Array(taps);
        for (let j = 0; j < taps; j++) {
          const t = j - this.half + 1 - frac; // input index minus output position
          const x = t / this.half;
          const w = Math.abs(x) >= 1 ? 0 : besselI0(beta * Math.sqrt(1 - x * x)) / i0b;
          const a = 2 * fc * t;
          row[j] = (a === 0 ? 1 : Math.sin(Math.PI * a) / (Math.PI * a)) * w;
          sum += row[j];
        }
        for (let j = 0; j < taps; j++) this.table[p * taps + j] = row[j] / sum; // unit DC gain in every phase
      }
      // buf holds inputs from absolute index bufStart; output n sits at input c + phase / L
      this.buf = new Float32Array(4096);
      this.bufStart = -(this.half - 1);
      this.bufLen = this.half - 1; // zeros before the first sample
      this.c = 0;
      this.phase = 0;
      this.inputs = 0;
      this.outputs = 0;
    }

    append(x) {
      if (this.bufLen + x.length > this.buf.length) {
        const next = new Float32Array(Math.max(2 * this.buf.length, this.bufLen + x.length));
        next.set(this.buf.subarray(0, this.bufLen));
        this.buf = next;
      }
      this.buf.set(x, this.bufLen);
      this.bufLen += x.length;
    }

    /** Outputs whose window ends before absolute input index `end`, at most `limit` of them. */
    run(end, limit) {
      const out = [];
      const { taps, table, L, M, P } = this;
      while (this.c + this.half < end && this.outputs < limit) {
        const p = P === L ? this.phase : Math.round((this.phase * P) / L);
        const off = this.c - this.half + 1 - this.bufStart;
        const row = p * taps;
        let y = 0;
        for (let j = 0; j < taps; j++) y += this.buf[off + j] * table[row + j];
        out.push(y);
        this.outputs++;
        this.phase += M;
        this.c += Math.floor(this.phase / L);
        this.phase %= L;
      }
      // drop the inputs no later output needs
      const keep = this.c - this.half + 1 - this.bufStart;
      if (keep > 0) {
        this.buf.copyWithin(0, keep, this.bufLen);
        this.bufLen -= keep;
        this.bufStart += keep;
      }
      return Float32Array.from(out);
    }

    push(x) {
      if (this.identity) return Float32Array.from(x);
      this.inputs += x.length;
      this.append(x);
      return this.run(this.bufStart + this.bufLen, Number.POSITIVE_INFINITY);
    }

    flush() {
      if (this.identity) return new Float32Array(0);
      this.append(new Float32Array(this.half + 1));
      const total = Math.ceil((this.inputs * this.L) / this.M);
      return this.run(this.bufStart + this.bufLen, total);
    }
  }

  // ---- session state ------------------------------------------------------------------------------------------------

  const fresh = () => ({
    ws: null,
    done: false,
    error: null,
    gotDoneReply: false,
    inputEnded: false,
    results: 0,
    resultsWhileStreaming: 0,
    samplesSent: 0,
    segments: [],
    partial: null,
    steps: [], // {compute, chunk}
    computeSum: 0,
    chunkSum: 0,
    sent: [],
    source: null, // what is streaming, for the status line
    stopInput: null, // ends the current input (microphone or file)
    doneWaiters: [],
  });
  let s = fresh();
  let captureRate = null;
  const api = { recordSent: false };

  function setStatus(text, kind) {
    ui.status.textContent = text;
    ui.status.dataset.kind = kind;
  }

  function setBusy(busy) {
    ui.mic.disabled = busy;
    ui.file.disabled = busy;
    ui.stop.disabled = !busy;
    ui.drop.classList.toggle('disabled', busy);
  }

  function finish(error) {
    if (s.done) return;
    s.done = true;
    s.error = error;
    if (error) setStatus(`error: ${error}`, 'error');
    else setStatus(`done: ${s.results} results, ${(s.samplesSent / RATE).toFixed(2)} s of audio`, 'done');
    if (s.stopInput) s.stopInput(false);
    setBusy(false);
    for (const w of s.doneWaiters) w();
    s.doneWaiters = [];
  }

  function wsUrl() {
    const override = new URLSearchParams(location.search).get('ws');
    if (override) return override;
    const base = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
    // a multi-look-ahead model: the attention context chosen in the selector (the server's default otherwise)
    return ui.context.value ? `${base}?att_context_size=${encodeURIComponent(ui.context.value)}` : base;
  }

  /** Lists the server's attention contexts (GET /health) in the selector when it serves more than one. */
  async function loadContexts() {
    try {
      const h = await (await fetch('health')).json();
      const pairs = Array.isArray(h.attContextSizes) ? h.attContextSizes : [];
      if (pairs.length < 2) return;
      for (const [left, right] of pairs) {
        const o = document.createElement('option');
        o.value = `${left},${right}`;
        o.textContent = `[${left}, ${right}]: ${right} frame${right === 1 ? '' : 's'} ahead`;
        o.selected = h.defaultAttContextSize && left === h.defaultAttContextSize[0] && right === h.defaultAttContextSize[1];
        ui.context.append(o);
      }
      ui.contextLabel.hidden = false;
    } catch {
      // no /health (another server): the default context
    }
  }

  function assertIdle() {
    if (s.ws && !s.done) throw new Error('a session is running: stop it first');
  }

  /** Starts a new session (fresh state) and opens its socket; resolves once it is open. */
  function connect() {
    assertIdle();
    s = fresh();
    render();
    setStatus('connecting…', 'busy');
    setBusy(true);
    const session = s;
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(wsUrl());
      } catch (e) {
        finish(`cannot connect: ${e.message}`);
        reject(e);
        return;
      }
      ws.binaryType = 'arraybuffer';
      session.ws = ws;
      ws.onopen = () => {
        setStatus('connected', 'busy');
        resolve();
      };
      ws.onmessage = (ev) => {
        if (session !== s || typeof ev.data !== 'string') return;
        if (ev.data === 'Done!') {
          session.gotDoneReply = true;
          return;
        }
        let r;
        try {
          r = JSON.parse(ev.data);
        } catch {
          return;
        }
        onResult(r);
      };
      ws.onerror = () => {
        // the close event that follows carries the code; an error before open never opens
        if (ws.readyState !== WebSocket.OPEN) reject(new Error(`cannot connect to ${wsUrl()}`));
      };
      ws.onclose = (ev) => {
        if (session !== s) return;
        const reason = ev.reason ? `: ${ev.reason}` : '';
        if (session.gotDoneReply && ev.code === 1000) finish(null);
        else if (session.gotDoneReply) finish(`closed with code ${ev.code}${reason} after Done!`);
        else finish(`closed with code ${ev.code}${reason}`);
        reject(new Error(`closed with code ${ev.code}`));
      };
    });
  }

  function sendSamples(x) {
    if (x.length === 0 || !s.ws || s.ws.readyState !== WebSocket.OPEN) return;
    let payload = x;
    if (!LITTLE_ENDIAN) {
      const dv = new DataView(new ArrayBuffer(4 * x.length));
      for (let i = 0; i < x.length; i++) dv.setFloat32(4 * i, x[i], true);
      payload = dv.buffer;
    }
    s.ws.send(payload);
    s.samplesSent += x.length;
    if (api.recordSent) s.sent.push(Float32Array.from(x));
    ui.sent.textContent = `${(s.samplesSent / RATE).toFixed(1)} s sent`;
  }

  function endInput() {
    if (s.inputEnded) return;
    s.inputEnded = true;
    if (s.ws && s.ws.readyState === WebSocket.OPEN) {
      s.ws.send('Done');
      setStatus('finishing: waiting for the last results…', 'busy');
    }
    ui.stop.disabled = true;
  }

  // ---- results ------------------------------------------------------------------------------------------------------

  function onResult(r) {
    s.results++;
    if (!s.inputEnded) s.resultsWhileStreaming++;
    const compute = Number(r.compute_ms);
    const chunk = Number(r.chunk_ms);
    if (Number.isFinite(compute) && Number.isFinite(chunk)) {
      s.steps.push({ compute, chunk });
      s.computeSum += compute;
      s.chunkSum += chunk;
    }
    const seg = {
      segment: r.segment,
      startTime: Number(r.start_time) || 0,
      text: typeof r.text === 'string' ? r.text : '',
      words: Array.isArray(r.word_timestamps) ? r.word_timestamps : [],
    };
    if (r.is_final) {
      s.segments.push(seg);
      s.partial = null;
    } else {
      s.partial = seg;
    }
    scheduleRender();
  }

  const fmtTime = (sec) => {
    const m = Math.floor(sec / 60);
    const rest = sec - 60 * m;
    return `${m}:${rest < 10 ? '0' : ''}${rest.toFixed(2)}`;
  };

  /** The segment's words as spans (absolute start time as subscript, start-end in the title). */
  function wordsInto(el, seg) {
    el.replaceChildren();
    if (seg.words.length === 0) {
      el.append(seg.text);
      return;
    }
    for (const [i, w] of seg.words.entries()) {
      if (i > 0) el.append(' ');
      const start = seg.startTime + Number(w.start);
      const end = seg.startTime + Number(w.end);
      const span = document.createElement('span');
      span.className = 'word';
      span.title = `${start.toFixed(2)}–${end.toFixed(2)} s`;
      span.append(String(w.word));
      const sub = document.createElement('sub');
      sub.textContent = start.toFixed(2);
      sub.setAttribute('aria-hidden', 'true');
      span.append(sub);
      el.append(span);
    }
  }

  let renderPending = false;
  let renderedSegments = 0;
  function scheduleRender() {
    if (renderPending) return;
    renderPending = true;
    requestAnimationFrame(() => {
      renderPending = false;
      render();
    });
  }

  function render() {
    if (s.segments.length < renderedSegments) {
      ui.segments.replaceChildren();
      renderedSegments = 0;
    }
    for (; renderedSegments < s.segments.length; renderedSegments++) {
      const seg = s.segments[renderedSegments];
      const li = document.createElement('li');
      const time = document.createElement('time');
      time.textContent = fmtTime(seg.startTime);
      time.dateTime = `PT${seg.startTime.toFixed(2)}S`;
      const text = document.createElement('span');
      text.className = 'text';
      wordsInto(text, seg);
      if (!seg.text) text.classList.add('empty');
      li.append(time, text);
      ui.segments.append(li);
    }
    if (s.partial) wordsInto(ui.partial, s.partial);
    else ui.partial.replaceChildren();
    ui.partial.classList.toggle('live', !!s.partial && !!s.partial.text);
    if (s.source && !s.done && !s.inputEnded) setStatus(`streaming ${s.source}: ${s.results} results`, 'busy');
    drawChart();
  }

  // ---- chart --------------------------------------------------------------------------------------------------------

  function drawChart() {
    const canvas = ui.chart;
    const dpr = window.devicePixelRatio || 1;
    const cssW = canvas.clientWidth || 600;
    const cssH = canvas.clientHeight || 200;
    if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
      canvas.width = Math.round(cssW * dpr);
      canvas.height = Math.round(cssH * dpr);
    }
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, cssW, cssH);
    const style = getComputedStyle(canvas);
    const fg = style.color || '#222';
    const accent = style.getPropertyValue('--accent').trim() || '#1565c0';
    const budgetColor = style.getPropertyValue('--budget').trim() || '#c62828';
    const pad = { l: 44, r: 10, t: 10, b: 22 };
    const w = cssW - pad.l - pad.r;
    const h = cssH - pad.t - pad.b;
    const steps = s.steps.slice(-400);
    const budget = steps.length ? steps[steps.length - 1].chunk : 0;
    let top = budget * 1.25;
    for (const st of steps) top = Math.max(top, st.compute * 1.1);
    if (!(top > 0)) top = 1;
    const y = (v) => pad.t + h - (v / top) * h;
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = fg;
    g.strokeStyle = fg;
    g.globalAlpha = 0.35;
    g.beginPath();
    g.moveTo(pad.l, pad.t);
    g.lineTo(pad.l, pad.t + h);
    g.lineTo(pad.l + w, pad.t + h);
    g.stroke();
    g.globalAlpha = 1;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (const v of [0, top / 2, top]) g.fillText(`${v < 10 ? v.toFixed(1) : Math.round(v)}`, pad.l - 4, y(v));
    g.textAlign = 'center';
    g.textBaseline = 'top';
    g.fillText(steps.length ? `results (last ${steps.length}), ms per step` : 'waiting for results', pad.l + w / 2, pad.t + h + 6);
    if (steps.length === 0) return;
    const bw = w / Math.max(steps.length, 20);
    g.fillStyle = accent;
    for (const [i, st] of steps.entries()) {
      const top0 = y(st.compute);
      g.fillRect(pad.l + i * bw + bw * 0.1, top0, Math.max(1, bw * 0.8), pad.t + h - top0);
    }
    g.strokeStyle = budgetColor;
    g.fillStyle = budgetColor;
    g.setLineDash([6, 4]);
    g.lineWidth = 1.5;
    g.beginPath();
    g.moveTo(pad.l, y(budget));
    g.lineTo(pad.l + w, y(budget));
    g.stroke();
    g.setLineDash([]);
    g.textAlign = 'right';
    g.textBaseline = 'bottom';
    g.fillText(`real-time budget ${budget} ms`, pad.l + w, y(budget) - 2);
    const rtf = s.chunkSum > 0 ? s.computeSum / s.chunkSum : 0;
    const mean = s.computeSum / s.steps.length;
    const text = `real-time factor ${rtf.toFixed(3)}: ${mean.toFixed(1)} ms of compute per ${budget} ms step (mean of ${s.steps.length} results)`;
    ui.rtf.textContent = text;
    canvas.setAttribute('aria-label', `Compute time per result against the real-time budget; ${text}`);
  }

  // ---- microphone ---------------------------------------------------------------------------------------------------

  async function workletUrl() {
    // through a Blob, so the worklet loads whatever content type the server gives .js files
    const res = await fetch('audio-worklet.js');
    if (!res.ok) throw new Error(`audio-worklet.js: HTTP ${res.status}`);
    return URL.createObjectURL(new Blob([await res.text()], { type: 'text/javascript' }));
  }

  async function startMic() {
    assertIdle();
    if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia || !window.AudioWorkletNode) {
      const msg = 'microphone: needs a secure context (https, or http://localhost / 127.0.0.1) with AudioWorklet';
      setStatus(`error: ${msg}`, 'error');
      throw new Error(msg);
    }
    // created before any await, so the click's user activation lets it start (autoplay policies)
    const ctx = new AudioContext({ latencyHint: 'interactive' });
    const resumed = ctx.resume().catch(() => {});
    try {
      await connect();
    } catch (e) {
      ctx.close().catch(() => {});
      throw e;
    }
    const session = s;
    let media = null;
    try {
      const url = await workletUrl();
      await ctx.audioWorklet.addModule(url);
      URL.revokeObjectURL(url);
      media = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
      if (session !== s || session.done) throw new Error('the connection ended');
      captureRate = ctx.sampleRate;
      const resampler = new Resampler(ctx.sampleRate, RATE);
      const source = ctx.createMediaStreamSource(media);
      const node = new AudioWorkletNode(ctx, 'streamnest-capture', {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        channelCount: 1,
        channelCountMode: 'explicit',
        channelInterpretation: 'speakers',
        processorOptions: { blockFrames: Math.round(ctx.sampleRate / 25) }, // 40 ms blocks
      });
      let flushed = null;
      node.port.onmessage = (ev) => {
        if (ev.data === 'flushed') {
          if (flushed) flushed();
          return;
        }
        if (session === s && !session.inputEnded) sendSamples(resampler.push(ev.data));
      };
      source.connect(node);
      node.connect(ctx.destination); // the node outputs silence; being connected keeps it processing everywhere
      await Promise.race([resumed, delay(5000)]);
      if (ctx.state !== 'running') throw new Error(`the browser keeps audio ${ctx.state} (no audio device, or autoplay blocked)`);
      const tracks = media.getTracks();
      session.stopInput = async (sendRest) => {
        session.stopInput = null;
        if (sendRest) {
          // the worklet's partial block first (port messages keep their order), then the resampler's tail
          const got = new Promise((r) => {
            flushed = r;
          });
          node.port.postMessage('flush');
          await Promise.race([got, delay(1000)]);
        }
        node.port.postMessage('stop');
        for (const t of tracks) t.stop();
        source.disconnect();
        node.disconnect();
        ctx.close().catch(() => {});
        if (sendRest) {
          sendSamples(resampler.flush());
          endInput();
        }
      };
      session.source = `the microphone (${ctx.sampleRate} Hz → ${RATE} Hz)`;
      render();
    } catch (e) {
      if (media) for (const t of media.getTracks()) t.stop();
      ctx.close().catch(() => {});
      const msg = `microphone: ${e.message || e}`;
      if (session.ws) session.ws.close(1000, 'microphone failed');
      finish(msg);
      throw e;
    }
  }

  // ---- files --------------------------------------------------------------------------------------------------------

  async function decodeFile(src) {
    let bytes;
    if (typeof src === 'string') {
      const res = await fetch(src);
      if (!res.ok) throw new Error(`${src}: HTTP ${res.status}`);
      bytes = await res.arrayBuffer();
    } else {
      bytes = await src.arrayBuffer();
    }
    // decoded straight to 16 kHz (a 16 kHz file is not resampled, so its samples arrive exactly)
    const ctx = new OfflineAudioContext(1, 1, RATE);
    const audio = await ctx.decodeAudioData(bytes);
    if (audio.numberOfChannels === 1) return audio.getChannelData(0);
    const mono = new Float32Array(audio.length);
    for (let c = 0; c < audio.numberOfChannels; c++) {
      const ch = audio.getChannelData(c);
      for (let i = 0; i < mono.length; i++) mono[i] += ch[i] / audio.numberOfChannels;
    }
    return mono;
  }

  async function sendFile(src, options = {}) {
    const realtime = options.realtime ?? ui.realtime.checked;
    assertIdle();
    const name = typeof src === 'string' ? src : src.name || 'audio';
    setStatus(`decoding ${name}…`, 'busy');
    let samples;
    try {
      samples = await decodeFile(src);
    } catch (e) {
      setStatus(`error: cannot decode ${name}: ${e.message || e}`, 'error');
      throw e;
    }
    await connect();
    const session = s;
    let stopped = false;
    session.stopInput = (sendRest) => {
      session.stopInput = null;
      stopped = true;
      if (sendRest) endInput();
    };
    session.source = `${name} (${(samples.length / RATE).toFixed(2)} s${realtime ? ', in real time' : ''})`;
    render();
    const t0 = performance.now();
    for (let i = 0; i < samples.length && !stopped; i += PIECE) {
      if (realtime) {
        const due = t0 + (i / RATE) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await delay(wait);
      } else {
        while (session.ws.readyState === WebSocket.OPEN && session.ws.bufferedAmount > 1 << 20) await delay(5);
        if (i % (10 * PIECE) === 0) await delay(0); // let results in
      }
      if (stopped || session.done) break;
      sendSamples(samples.subarray(i, i + PIECE));
    }
    if (!stopped && !session.done) {
      session.stopInput = null;
      endInput();
    }
  }

  function stop() {
    if (s.stopInput) s.stopInput(true);
    else endInput();
  }

  // ---- wiring -------------------------------------------------------------------------------------------------------

  const report = (e) => console.error(e);
  ui.mic.addEventListener('click', () => startMic().catch(report));
  ui.stop.addEventListener('click', stop);
  ui.file.addEventListener('change', () => {
    const f = ui.file.files?.[0];
    if (f) sendFile(f).catch(report);
    ui.file.value = '';
  });
  for (const ev of ['dragenter', 'dragover']) {
    ui.drop.addEventListener(ev, (e) => {
      e.preventDefault();
      if (!ui.file.disabled) ui.drop.classList.add('over');
    });
  }
  for (const ev of ['dragleave', 'drop']) ui.drop.addEventListener(ev, () => ui.drop.classList.remove('over'));
  ui.drop.addEventListener('drop', (e) => {
    e.preventDefault();
    const f = e.dataTransfer?.files?.[0];
    if (f && !ui.file.disabled) sendFile(f).catch(report);
  });
  window.addEventListener('resize', () => drawChart());
  setStatus(`ready: ${wsUrl()}`, 'idle');
  drawChart();
  loadContexts();

  window.streamnest = Object.assign(api, {
    startMic,
    sendFile,
    stop,
    finalText: () =>
      s.segments
        .map((x) => x.text)
        .filter((x) => x)
        .join(' '),
    partialText: () => (s.partial ? s.partial.text : ''),
    chunkMs: () => (s.steps.length ? s.steps[s.steps.length - 1].chunk : null),
    segments: () => s.segments.map((x) => ({ ...x })),
    whenDone: () => (s.done ? Promise.resolve() : new Promise((r) => s.doneWaiters.push(r))),
    sentSamples: () => {
      const out = new Float32Array(s.sent.reduce((n, x) => n + x.length, 0));
      let at = 0;
      for (const x of s.sent) {
        out.set(x, at);
        at += x.length;
      }
      return out;
    },
    Resampler,
  });
  for (const key of ['done', 'error', 'results', 'resultsWhileStreaming', 'samplesSent']) {
    Object.defineProperty(api, key, { get: () => s[key], enumerable: true });
  }
  Object.defineProperty(api, 'status', { get: () => ui.status.textContent, enumerable: true });
  Object.defineProperty(api, 'captureRate', { get: () => captureRate, enumerable: true });
})();
