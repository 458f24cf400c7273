// Many independent streams served together: streams join and leave at any time; each step() batches every stream
// whose next chunk is ready (same-shaped chunks share one encoder call, caches stacked along the batch axis).
// Provenance: none in NeMo (its CacheAwareStreamingAudioBuffer batches streams that start together and pads them);
// the batching itself is StreamingEncoder.run.
import type { Tensor } from '../torch/index.js';
import type { StreamingEncoder, StreamState } from './streaming-encoder.js';

export class StreamBatcher {
  private state: StreamState = { streams: [] };
  private ids: string[] = [];
  private leaving = new Set<string>();

  constructor(readonly streaming: StreamingEncoder) {}

  /** Ids of the streams being served. */
  get active(): readonly string[] {
    return this.ids;
  }

  join(id: string): void {
    if (this.ids.includes(id)) throw new Error(`StreamBatcher: stream '${id}' has already joined`);
    this.ids.push(id);
    this.state = { streams: [...this.state.streams, this.streaming.initStream()] };
  }

  /** Queues audio for one stream (features are computed now; the encoder runs at the next step()). */
  push(id: string, samples: Float32Array): void {
    const i = this.indexOf(id);
    if (this.leaving.has(id)) throw new Error(`StreamBatcher: stream '${id}' is leaving; it takes no more audio`);
    this.state = this.streaming.feedAudio(
      this.state.streams.map((_, j) => (j === i ? samples : new Float32Array(0))),
      this.state,
    );
  }

  /** Ends a stream's input: its last frames come out of the next step(), after which it is gone. */
  leave(id: string): void {
    const i = this.indexOf(id);
    this.leaving.add(id);
    this.state = this.streaming.endStreams(this.state, [i]);
  }

  /** Runs every ready chunk; returns the new encoder frames [D, k] of every stream that produced any. */
  step(): Map<string, Tensor> {
    const r = this.streaming.run(this.state);
    const out = new Map<string, Tensor>();
    const keepStreams = [];
    const keepIds = [];
    for (const [i, id] of this.ids.entries()) {
      const e = r.encoded[i]!;
      if (e.size(1) > 0) out.set(id, e);
      else e.dispose();
      const s = r.state.streams[i]!;
      if (this.leaving.has(id) && this.streaming.isDone(s)) {
        this.streaming.disposeStream(s);
        this.leaving.delete(id);
      } else {
        keepStreams.push(s);
        keepIds.push(id);
      }
    }
    this.state = { streams: keepStreams };
    this.ids = keepIds;
    return out;
  }

  /** Frees every stream (without running their tails). */
  dispose(): void {
    this.streaming.disposeState(this.state);
    this.state = { streams: [] };
    this.ids = [];
    this.leaving.clear();
  }

  private indexOf(id: string): number {
    const i = this.ids.indexOf(id);
    if (i < 0) throw new Error(`StreamBatcher: no stream '${id}' (active: ${this.ids.join(', ') || 'none'})`);
    return i;
  }
}
