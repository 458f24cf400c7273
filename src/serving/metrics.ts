// The server's Prometheus metrics (`GET /metrics`, text exposition format), through prom-client.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly streamsActive = new Gauge({ name: 'streamnest_streams_active', help: 'Streams open now', registers: [this.registry] });
  readonly streamsTotal = new Counter({ name: 'streamnest_streams_total', help: 'Streams accepted', registers: [this.registry] });
  readonly closes = new Counter({
    name: 'streamnest_connections_closed_total',
    help: 'Connections closed, by WebSocket close code',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly pauses = new Counter({
    name: 'streamnest_backpressure_pauses_total',
    help: 'Times a connection stopped being read because its audio was too far ahead of decoding',
    registers: [this.registry],
  });
  readonly steps = new Counter({ name: 'streamnest_decode_steps_total', help: 'Batched decode calls', registers: [this.registry] });
  readonly audioSeconds = new Counter({ name: 'streamnest_audio_seconds_total', help: 'Audio received, in seconds', registers: [this.registry] });
  readonly batchSize = new Histogram({
    name: 'streamnest_batch_size',
    help: 'Streams decoded together in one call',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });
  readonly stepSeconds = new Histogram({
    name: 'streamnest_step_latency_seconds',
    help: 'Wall time of one batched decode call (encoder steps + CTC head)',
    buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.32, 0.5, 1, 2],
    registers: [this.registry],
  });

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
