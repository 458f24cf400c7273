// .nemo model archives (ports nemo.core.connectors.save_restore_connector.SaveRestoreConnector's save_to /
// restore_from layout): a tar (optionally gzipped) holding ./model_config.yaml and ./model_weights.ckpt.
// Reading streams the archive (byte-stream.ts, tar.ts): members are taken front to back, those not wanted are skipped
// (a seek in a plain tar, decompress-and-discard in gzip), and in a plain tar the weights' zip is read in place: its
// directory, its pickle, then each storage straight into its tensor. Nothing is read whole.
import {
  TorchSaveError,
  ZipError,
  ZipLocalScan,
  loadStateDict,
  sequentialReader,
  torchSaveStream,
  writeFileAtomic,
  type SizedChunks,
  type Tensor,
} from '../torch/index.js';
import { MemorySource, type RandomAccessSource } from '../torch/serialize/random-access.js';
import type { SequentialReader } from '../torch/serialize/zip.js';
import { GzipError, MemoryStream, openArchiveStream, type OpenedArchive } from './byte-stream.js';
import { TarError, TarReader, writeTarStream, type TarEntry, type TarLimits, type TarWriteMember } from './tar.js';

export const NEMO_CONFIG_MEMBER = 'model_config.yaml';
export const NEMO_WEIGHTS_MEMBER = 'model_weights.ckpt';

export class NemoArchiveError extends Error {
  constructor(msg: string, options?: { cause?: unknown }) {
    super(msg, options);
    this.name = 'NemoArchiveError';
  }
}

export interface NemoArchive {
  configYaml: string;
  stateDict: Map<string, Tensor>;
  /** Every member as stored (trailing '/' of directories dropped, as Python's tarfile reports them). */
  members: { name: string; size: number }[];
  /** Files other than the config and the weights, by path inside the archive (no leading './'): those `extra` asked for. */
  extra: Map<string, Uint8Array>;
  /** The sizes of all files other than the config and the weights, read into `extra` or not. */
  extraSizes: Map<string, number>;
  /** What the reading noticed without failing (tensors: 'meta' only: a weights member cut short or with a damaged zip). */
  warnings: string[];
}

export interface ReadNemoOptions {
  /**
   * 'load' (default): the state dict's tensors hold the weights. 'meta': shapes and dtypes only (tensors on the 'meta'
   * device, no memory): the config and the weights' pickle are read, the storages are not (their entries must exist
   * and be large enough). A weights member cut short then still gives its tensor list, with a warning.
   */
  tensors?: 'load' | 'meta';
  /** Which other files to read into `extra`: 'all' (default), 'none', those named (paths without './'), or those a test picks. */
  extra?: 'all' | 'none' | readonly string[] | ((name: string) => boolean);
  /** Limits on the tar (member count, name length, total size); DEFAULT_TAR_LIMITS otherwise. */
  limits?: Partial<TarLimits>;
  /** Filled in with the bytes read from the file (plain tar; for measurements and tests). */
  stats?: { bytesRead: number };
}

const PKL_OR_BYTEORDER = /^[^/]*\/?(data\.pkl|byteorder)$/;

function archiveError(path: string, e: unknown): unknown {
  if (e instanceof TarError) return new NemoArchiveError(e.message, { cause: e });
  if (e instanceof GzipError) return new NemoArchiveError(`${path}: gzip data is corrupt (${e.message})`, { cause: e });
  return e;
}

function open(path: string): OpenedArchive {
  try {
    return openArchiveStream(path);
  } catch (e) {
    throw archiveError(path, e);
  }
}

/** What a shapes-only read of a gzip archive keeps of the weights member: its first and its last bytes. */
const META_HEAD_BYTES = 16 << 20;
const META_TAIL_BYTES = 16 << 20;

/**
 * The weights member of a stream that cannot seek (gzip), for a shapes-only read: its first 16 MiB (the zip's local
 * header and pickle, which torch.save writes first) and its last 16 MiB (the zip's directory), the middle decompressed
 * and discarded. Reading a byte of the middle (a storage) is refused.
 */
function headAndTail(input: SequentialReader, size: number, where: string): RandomAccessSource {
  if (size <= META_HEAD_BYTES + META_TAIL_BYTES) return new MemorySource(input.read(size));
  const head = input.read(META_HEAD_BYTES);
  input.skip(size - META_HEAD_BYTES - META_TAIL_BYTES);
  const tail = input.read(META_TAIL_BYTES);
  const tailAt = size - tail.length;
  return {
    size,
    inMemory: true,
    read(position: number, length: number): Uint8Array {
      const end = Math.min(size, position + length);
      if (end <= head.length) return head.subarray(position, end);
      if (position >= tailAt) return tail.subarray(position - tailAt, end - tailAt);
      throw new TorchSaveError(
        `${where}: bytes ${position}..${end} of the weights are beyond what a shapes-only read of a gzip archive keeps (the first and last ${META_HEAD_BYTES >> 20} MiB)`,
      );
    },
  };
}

/**
 * Reads a .nemo archive (tar or tar.gz) front to back without holding it whole; see ReadNemoOptions. The state dict's
 * tensors belong to the caller.
 */
export function readNemoArchive(path: string, options: ReadNemoOptions = {}): NemoArchive {
  const mode = options.tensors ?? 'load';
  const want = options.extra ?? 'all';
  const wantExtra = (name: string): boolean =>
    want === 'all' ? true : want === 'none' ? false : typeof want === 'function' ? want(name) : want.includes(name);
  const opened = open(path);
  const inMemory = opened.stream instanceof MemoryStream;
  const weightsWhere = `${path}: ./${NEMO_WEIGHTS_MEMBER}`;
  const warnings: string[] = [];
  try {
    const reader = new TarReader(opened.stream, path, options.limits, (name) => mode === 'meta' && name === NEMO_WEIGHTS_MEMBER);
    const members: TarEntry[] = [];
    let config: Uint8Array | null = null;
    let weights: RandomAccessSource | null = null;
    let weightsEntry: TarEntry | null = null;
    const extra = new Map<string, Uint8Array>();
    const extraSizes = new Map<string, number>();
    for (let e = reader.next(); e !== null; e = reader.next()) {
      members.push(e);
      if (e.type !== 'file') continue;
      if (e.name === NEMO_CONFIG_MEMBER) config = reader.readData(e);
      else if (e.name === NEMO_WEIGHTS_MEMBER) {
        weightsEntry = e;
        // a plain tar: read in place later; gzip: read into memory to load, its two ends only for shapes
        weights = reader.dataSource(e) ?? (mode === 'load' ? new MemorySource(reader.readData(e)) : headAndTail(reader.dataReader(e), e.size, weightsWhere));
      } else {
        extraSizes.set(e.name, e.size);
        if (wantExtra(e.name)) {
          const data = reader.readData(e);
          extra.set(e.name, inMemory ? Uint8Array.from(data) : data);
        }
      }
    }
    const list = (): string => members.map((m) => m.rawName).join(', ') || 'none';
    if (config === null) throw new NemoArchiveError(`${path}: no member ./${NEMO_CONFIG_MEMBER} (members: ${list()})`);
    if (weights === null || weightsEntry === null) throw new NemoArchiveError(`${path}: no member ./${NEMO_WEIGHTS_MEMBER} (members: ${list()})`);
    let configYaml: string;
    try {
      configYaml = new TextDecoder('utf-8', { fatal: true }).decode(config);
    } catch {
      throw new NemoArchiveError(`${path}: member ./${NEMO_CONFIG_MEMBER} is not UTF-8 text`);
    }
    const stateDict = mode === 'load' ? loadStateDict(weights, weightsWhere) : loadMetaStateDict(weights, weightsEntry, weightsWhere, warnings);
    if (options.stats && opened.file) options.stats.bytesRead = opened.file.bytesRead;
    return {
      configYaml,
      stateDict,
      members: members.map((m) => ({ name: m.rawName.length > 1 ? m.rawName.replace(/\/+$/, '') : m.rawName, size: m.size })),
      extra,
      extraSizes,
      warnings,
    };
  } catch (e) {
    throw archiveError(path, e);
  } finally {
    opened.close();
  }
}

/** Shapes and dtypes of the weights, from the zip's directory, or else (a member cut short) from its entries read in order. */
function loadMetaStateDict(weights: RandomAccessSource, entry: TarEntry, where: string, warnings: string[]): Map<string, Tensor> {
  const cut = entry.available < entry.size ? ` is cut short (${entry.available} of ${entry.size} bytes)` : '';
  try {
    if (cut) throw new TorchSaveError(`${where}${cut}`);
    return loadStateDict(weights, where, { storages: 'meta' });
  } catch (e) {
    if (!(e instanceof TorchSaveError) || !(cut || e.cause instanceof ZipError)) throw e;
    // the zip's directory is out of reach: list the entries front to back, keeping the pickle
    let scan: ZipLocalScan;
    try {
      scan = new ZipLocalScan(sequentialReader(weights), (n) => PKL_OR_BYTEORDER.test(n), where);
    } catch {
      throw e;
    }
    if (!scan.names().some((n) => n.endsWith('data.pkl') && PKL_OR_BYTEORDER.test(n))) throw e;
    const why = cut || `: ${e.message.startsWith(`${where}: `) ? e.message.slice(where.length + 2) : e.message}`;
    warnings.push(`${where}${why}: tensors listed from its pickle (read front to back); loading the weights would fail`);
    return loadStateDict(scan, where, { storages: 'meta' });
  }
}

/**
 * One file of a .nemo archive (path inside it, without './'), read without reading the rest (skipped members are not
 * read in a plain tar); null when the archive has no such file. At most `maxBytes` (default 64 MiB).
 */
export function readNemoMember(path: string, name: string, o: { limits?: Partial<TarLimits>; maxBytes?: number } = {}): Uint8Array | null {
  const opened = open(path);
  try {
    const reader = new TarReader(opened.stream, path, o.limits);
    for (let e = reader.next(); e !== null; e = reader.next()) {
      if (e.type !== 'file' || e.name !== name) continue;
      const max = o.maxBytes ?? 64 << 20;
      if (e.size > max) throw new NemoArchiveError(`${path}: member ./${name} has ${e.size} bytes, more than the ${max} read here`);
      const data = reader.readData(e);
      return opened.stream instanceof MemoryStream ? Uint8Array.from(data) : data;
    }
    return null;
  } catch (e) {
    throw archiveError(path, e);
  } finally {
    opened.close();
  }
}

/**
 * Writes an uncompressed .nemo tar with NeMo's save_to layout ('./', then ./model_config.yaml,
 * ./model_weights.ckpt and any extra files sorted by name), atomically (temporary file in the same folder, fsync, rename).
 * The weights (and any extra member given as SizedChunks, such as a training checkpoint's optimizer state) stream
 * into the file tensor by tensor, CRCs computed on the way: writing holds one storage's copy at a time, not the archive.
 */
export function writeNemoArchive(path: string, a: { configYaml: string; stateDict: Map<string, Tensor>; extra?: Map<string, Uint8Array | SizedChunks> }): void {
  const files: TarWriteMember[] = [
    { name: `./${NEMO_CONFIG_MEMBER}`, data: new TextEncoder().encode(a.configYaml) },
    { name: `./${NEMO_WEIGHTS_MEMBER}`, data: torchSaveStream(a.stateDict, { keepRequiresGrad: false }) },
  ];
  for (const [name, data] of a.extra ?? []) {
    const parts = name.split('/').filter((p) => p !== '' && p !== '.');
    if (name.startsWith('/') || parts.length === 0 || parts.includes('..'))
      throw new NemoArchiveError(`${path}: extra member name '${name}' is not a safe relative path`);
    const norm = parts.join('/');
    if (norm === NEMO_CONFIG_MEMBER || norm === NEMO_WEIGHTS_MEMBER)
      throw new NemoArchiveError(`${path}: extra member '${name}' would replace the archive's own ${norm}`);
    if (files.some((f) => f.name === `./${norm}`)) throw new NemoArchiveError(`${path}: extra member '${name}' is given twice`);
    files.push({ name: `./${norm}`, data });
  }
  // tarfile.add of the folder: the './' entry first, then the files sorted by name
  files.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  writeFileAtomic(path, writeTarStream([{ name: './', type: 'dir' }, ...files]));
}
