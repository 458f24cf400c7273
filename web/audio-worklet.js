// streamnest capture worklet: forwards the microphone's samples (mono, at the AudioContext's rate) to the main thread
// in blocks of `blockFrames` frames (transferred Float32Arrays), which resamples them to 16 kHz and sends them.
// Messages from the main thread: 'flush' (post what is buffered, then the text 'flushed'); 'stop' (end processing).
// The node is created with channelCount 1 / channelCountMode 'explicit', so the graph has already mixed to mono.
class StreamnestCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const frames = options?.processorOptions?.blockFrames;
    this.blockFrames = Number.isInteger(frames) && frames > 0 ? frames : 2048;
    this.block = new Float32Array(this.blockFrames);
    this.filled = 0;
    this.stopped = false;
    this.port.onmessage = (ev) => {
      if (ev.data === 'flush') {
        this.post();
        this.port.postMessage('flushed');
      } else if (ev.data === 'stop') {
        this.stopped = true;
      }
    };
  }

  post() {
    if (this.filled === 0) return;
    const out = this.block.slice(0, this.filled);
    this.port.postMessage(out, [out.buffer]);
    this.filled = 0;
  }

  process(inputs) {
    if (this.stopped) return false;
    const channel = inputs[0]?.[0];
    if (channel) {
      let i = 0;
      while (i < channel.length) {
        const n = Math.min(channel.length - i, this.blockFrames - this.filled);
        this.block.set(channel.subarray(i, i + n), this.filled);
        this.filled += n;
        i += n;
        if (this.filled === this.blockFrames) this.post();
      }
    }
    return true;
  }
}

registerProcessor('streamnest-capture', StreamnestCapture);
