// Training checkpoints: the .nemo layout (model_config.yaml, model_weights.ckpt, the model's own files such as a
// tokenizer) plus
//   trainer_state.ckpt  torch.save of {optimizer_states: [AdamW state_dict in PyTorch's layout], rng_states: {name: uint8}}
//   trainer_state.json  {global_step, epoch, lr_scheduler: {last_step}, sampler, best, nan_skips, ...}
// written atomically (temporary file, fsync, rename), so a kill mid-write leaves the previous file intact.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadTorchSave, scalar, torchSaveStream, type AdamWState, type PickleValue, type SizedChunks, type Tensor } from '../torch/index.js';
import { readNemoArchive, writeNemoArchive } from '../checkpoint/nemo-archive.js';

export const TRAINER_STATE_CKPT = 'trainer_state.ckpt';
export const TRAINER_STATE_JSON = 'trainer_state.json';

export interface TrainerProgress {
  globalStep: number;
  epoch: number;
  nanSkips: number;
  /** Sampler/loader state (plain JSON) so that a resumed run sees the same batches. */
  sampler: unknown;
  /** Saved top-k checkpoints and their monitored scores. */
  best: { path: string; score: number }[];
  /** Anything else the task wants back (e.g. multi-lookahead RNG draws), plain JSON. */
  extra?: Record<string, unknown>;
}

export interface TrainingCheckpoint {
  configYaml: string;
  stateDict: Map<string, Tensor>;
  /** Files the model needs besides its weights (NeMo's artifacts, e.g. the tokenizer), by archive member name; kept in the exported .nemo. */
  artifacts?: Map<string, Uint8Array>;
  optimizer: AdamWState;
  rngStates: Map<string, Tensor>;
  progress: TrainerProgress;
}

/** PyTorch's layout (step as a float32 0-d tensor, as torch 1.13 stores it); the step tensors made here go to `owned`. */
function optimizerToPickle(o: AdamWState, owned: Tensor[]): PickleValue {
  const state = new Map<string | number, PickleValue>();
  for (const [i, s] of o.state) {
    const step = scalar(s.step, { dtype: 'float32' });
    owned.push(step);
    state.set(
      i,
      new Map<string | number, PickleValue>([
        ['step', step],
        ['exp_avg', s.exp_avg],
        ['exp_avg_sq', s.exp_avg_sq],
      ]),
    );
  }
  const groups: PickleValue[] = o.param_groups.map(
    (g) =>
      new Map<string | number, PickleValue>([
        ['lr', g.lr],
        ['betas', [g.betas[0], g.betas[1]]],
        ['eps', g.eps],
        ['weight_decay', g.weight_decay],
        ['amsgrad', g.amsgrad],
        ['maximize', g.maximize],
        ['foreach', null],
        ['capturable', false],
        ['params', g.params],
      ]),
  );
  return new Map<string | number, PickleValue>([
    ['state', state],
    ['param_groups', groups],
  ]);
}

function asMap(v: PickleValue | undefined, what: string): Map<string | number, PickleValue> {
  if (!(v instanceof Map)) throw new Error(`training checkpoint: ${what} is missing or not a dict`);
  return v;
}

function pickleToOptimizer(v: PickleValue | undefined): AdamWState {
  const root = asMap(v, 'optimizer state');
  const state: AdamWState['state'] = new Map();
  for (const [k, s] of asMap(root.get('state'), 'optimizer state.state')) {
    const m = asMap(s, `optimizer state of parameter ${k}`);
    const step = m.get('step');
    const stepValue = typeof step === 'number' ? step : (step as Tensor).item();
    if (typeof step !== 'number') (step as Tensor).dispose();
    state.set(Number(k), { step: stepValue, exp_avg: m.get('exp_avg') as Tensor, exp_avg_sq: m.get('exp_avg_sq') as Tensor });
  }
  const groups = root.get('param_groups');
  if (!Array.isArray(groups)) throw new Error('training checkpoint: optimizer param_groups missing');
  return {
    state,
    param_groups: groups.map((g) => {
      const m = asMap(g, 'param group');
      const betas = m.get('betas') as number[];
      return {
        lr: Number(m.get('lr')),
        betas: [Number(betas[0]), Number(betas[1])] as [number, number],
        eps: Number(m.get('eps')),
        weight_decay: Number(m.get('weight_decay')),
        amsgrad: Boolean(m.get('amsgrad')),
        maximize: Boolean(m.get('maximize')),
        params: (m.get('params') as (number | bigint)[]).map(Number),
      };
    }),
  };
}

export function saveTrainingCheckpoint(path: string, c: TrainingCheckpoint): void {
  const owned: Tensor[] = [];
  const trainerState = new Map<string | number, PickleValue>([
    ['optimizer_states', [optimizerToPickle(c.optimizer, owned)]],
    ['rng_states', new Map<string | number, PickleValue>([...c.rngStates])],
  ]);
  const json = JSON.stringify(
    {
      format: 'streamnest-training-checkpoint',
      version: 1,
      global_step: c.progress.globalStep,
      epoch: c.progress.epoch,
      nan_skips: c.progress.nanSkips,
      lr_scheduler: { last_step: c.progress.globalStep },
      sampler: c.progress.sampler,
      best: c.progress.best,
      extra: c.progress.extra ?? {},
    },
    null,
    1,
  );
  try {
    writeNemoArchive(path, {
      configYaml: c.configYaml,
      stateDict: c.stateDict,
      // the optimizer state (twice the weights) streams into the file like the weights
      extra: new Map<string, Uint8Array | SizedChunks>([
        ...(c.artifacts ?? []),
        [TRAINER_STATE_CKPT, torchSaveStream(trainerState)],
        [TRAINER_STATE_JSON, new TextEncoder().encode(json)],
      ]),
    });
  } finally {
    for (const x of owned) x.dispose();
  }
}

/** A checkpoint's extra archive members that belong to the model (artifacts such as a tokenizer), not to the trainer. */
function modelArtifacts(extra: ReadonlyMap<string, Uint8Array>): Map<string, Uint8Array> {
  return new Map([...extra].filter(([name]) => name !== TRAINER_STATE_CKPT && name !== TRAINER_STATE_JSON));
}

/** NeMo's always_save_nemo: a training checkpoint's model as a plain .nemo (model_config.yaml + model_weights.ckpt + artifacts). */
export function exportNemoFromCheckpoint(checkpointPath: string, nemoPath: string): void {
  const a = readNemoArchive(checkpointPath);
  try {
    writeNemoArchive(nemoPath, { configYaml: a.configYaml, stateDict: a.stateDict, extra: modelArtifacts(a.extra) });
  } finally {
    for (const x of a.stateDict.values()) x.dispose();
  }
}

export function loadTrainingCheckpoint(path: string): TrainingCheckpoint {
  const a = readNemoArchive(path);
  const stateBytes = a.extra.get(TRAINER_STATE_CKPT);
  const jsonBytes = a.extra.get(TRAINER_STATE_JSON);
  if (!stateBytes || !jsonBytes) {
    for (const t of a.stateDict.values()) t.dispose();
    throw new Error(
      `${path}: not a streamnest training checkpoint (no ${TRAINER_STATE_CKPT}/${TRAINER_STATE_JSON}); a plain .nemo can initialise a model but not resume training`,
    );
  }
  const root = asMap(loadTorchSave(stateBytes, `${path}: ${TRAINER_STATE_CKPT}`), TRAINER_STATE_CKPT);
  const opts = root.get('optimizer_states');
  if (!Array.isArray(opts) || opts.length !== 1) throw new Error(`${path}: expected one optimizer state`);
  const rngStates = new Map<string, Tensor>();
  for (const [k, v] of asMap(root.get('rng_states'), 'rng_states')) rngStates.set(String(k), v as Tensor);
  const j = JSON.parse(new TextDecoder().decode(jsonBytes)) as Record<string, unknown>;
  if (j.format !== 'streamnest-training-checkpoint') throw new Error(`${path}: ${TRAINER_STATE_JSON} has an unknown format`);
  return {
    configYaml: a.configYaml,
    stateDict: a.stateDict,
    artifacts: modelArtifacts(a.extra),
    optimizer: pickleToOptimizer(opts[0]),
    rngStates,
    progress: {
      globalStep: Number(j.global_step),
      epoch: Number(j.epoch),
      nanSkips: Number(j.nan_skips ?? 0),
      sampler: j.sampler,
      best: (j.best as { path: string; score: number }[]) ?? [],
      extra: (j.extra as Record<string, unknown>) ?? {},
    },
  };
}

/** A checkpoint could not be written; training stops (the previous checkpoints are untouched). */
export class CheckpointWriteError extends Error {
  constructor(msg: string, options?: { cause?: unknown }) {
    super(msg, options);
    this.name = 'CheckpointWriteError';
  }
}

/** Top-k by a monitored score (mode min) plus `<name>-last.ckpt`, in `<exp>/checkpoints/`. */
export class CheckpointManager {
  constructor(
    readonly dir: string,
    readonly name: string,
    readonly saveTopK: number,
  ) {}

  get lastPath(): string {
    return join(this.dir, `${this.name}--last.ckpt`);
  }

  findLast(): string | null {
    return existsSync(this.lastPath) ? this.lastPath : null;
  }

  /** Writes the last checkpoint; with a score, also keeps it among the top-k (deleting the one that falls out). */
  save(c: TrainingCheckpoint, score?: number): { last: string; kept?: string; best: { path: string; score: number }[] } {
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (e) {
      throw new CheckpointWriteError(`cannot create the checkpoint folder ${this.dir}: ${(e as Error).message}`, { cause: e });
    }
    const best = [...c.progress.best];
    let kept: string | undefined;
    const dropped: string[] = [];
    if (score !== undefined && Number.isFinite(score) && this.saveTopK !== 0) {
      const path = join(this.dir, `${this.name}--val_loss=${score.toFixed(4)}-step=${c.progress.globalStep}.ckpt`);
      const worst = best.length ? Math.max(...best.map((b) => b.score)) : Infinity;
      if (this.saveTopK < 0 || best.length < this.saveTopK || score < worst) {
        best.push({ path: basename(path), score });
        best.sort((a, b) => a.score - b.score);
        while (this.saveTopK > 0 && best.length > this.saveTopK) dropped.push(best.pop()!.path);
        kept = path;
      }
    }
    const withBest: TrainingCheckpoint = { ...c, progress: { ...c.progress, best } };
    // write first, delete what falls out of the top-k only after both writes succeeded: a failed write (disk full,
    // file size limit, read-only folder) or a kill leaves every earlier checkpoint in place
    for (const p of kept ? [kept, this.lastPath] : [this.lastPath]) {
      try {
        saveTrainingCheckpoint(p, withBest);
      } catch (e) {
        throw new CheckpointWriteError(
          `cannot write the checkpoint ${p}: ${(e as Error).message}. The previous checkpoints in ${this.dir} are kept; ` +
            'free space or fix the folder, then resume with exp_manager.resume_if_exists=true',
          { cause: e },
        );
      }
    }
    for (const d of dropped) if (d !== (kept && basename(kept))) rmSync(join(this.dir, d), { force: true });
    return { last: this.lastPath, kept, best };
  }

  /** The best checkpoint's path (for writing the final .nemo), or the last. */
  bestPath(best: { path: string; score: number }[]): string {
    const b = [...best].sort((x, y) => x.score - y.score)[0];
    return b && existsSync(join(this.dir, b.path)) ? join(this.dir, b.path) : this.lastPath;
  }

  /** Removes temporary files left by a killed write. */
  cleanStaleTemporaries(): void {
    if (!existsSync(this.dir)) return;
    for (const f of readdirSync(this.dir)) {
      if (/\.tmp[-.]/.test(f) || f.endsWith('.tmp')) {
        const p = join(this.dir, f);
        if (statSync(p).isFile()) rmSync(p, { force: true });
      }
    }
  }
}
