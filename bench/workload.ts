// A benchmark workload: the same computation in streamnest (here) and in PyTorch (bench/pytorch/<name>.py).
export interface WorkloadInstance {
  /** One iteration (timed). Must free what it allocates (use t.tidy). */
  step(): void;
  /** Frees parameters and other long-lived state. */
  dispose(): void;
}

export interface Workload {
  /** Also the PyTorch twin's file name: bench/pytorch/<name>.py */
  readonly name: string;
  readonly description: string;
  /** Default timed iterations (overridden by --repeat). */
  readonly repeat: number;
  /** Default warm-up iterations (overridden by --warmup). */
  readonly warmup: number;
  setup(): WorkloadInstance;
}
