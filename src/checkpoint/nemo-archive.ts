// .nemo model archives (ports nemo.core.connectors.save_restore_connector.SaveRestoreConnector's save_to /
// restore_from layout): a tar (optionally gzipped) holding ./model_config.yaml and ./model_weights.ckpt.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { loadStateDict, saveTorchSave, writeFileAtomic, type Tensor } from '../torch/index.js';
import { readTar, TarError, writeTar, type TarWriteMember } from './tar.js';

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
  /** Files other than the config and the weights, by path inside the archive (no leading './'). */
  extra: Map<string, Uint8Array>;
}

/** Reads a .nemo archive (tar or tar.gz). The state dict's tensors belong to the caller. */
export function readNemoArchive(path: string): NemoArchive {
  let bytes: Uint8Array = readFileSync(path);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new NemoArchiveError(`${path}: gzip data is corrupt (${(e as Error).message})`, { cause: e });
    }
  }
  let members: ReturnType<typeof readTar>;
  try {
    members = readTar(bytes, path);
  } catch (e) {
    if (e instanceof TarError) throw new NemoArchiveError(e.message, { cause: e });
    throw e;
  }
  const config = members.find((m) => m.name === NEMO_CONFIG_MEMBER && m.type === 'file');
  const weights = members.find((m) => m.name === NEMO_WEIGHTS_MEMBER && m.type === 'file');
  if (!config) throw new NemoArchiveError(`${path}: no member ./${NEMO_CONFIG_MEMBER} (members: ${members.map((m) => m.rawName).join(', ') || 'none'})`);
  if (!weights) throw new NemoArchiveError(`${path}: no member ./${NEMO_WEIGHTS_MEMBER} (members: ${members.map((m) => m.rawName).join(', ') || 'none'})`);
  let configYaml: string;
  try {
    configYaml = new TextDecoder('utf-8', { fatal: true }).decode(config.data);
  } catch {
    throw new NemoArchiveError(`${path}: member ./${NEMO_CONFIG_MEMBER} is not UTF-8 text`);
  }
  const extra = new Map<string, Uint8Array>();
  for (const m of members) {
    if (m.type === 'file' && m !== config && m !== weights) extra.set(m.name, Uint8Array.from(m.data));
  }
  const stateDict = loadStateDict(weights.data, `${path}: ./${NEMO_WEIGHTS_MEMBER}`);
  return {
    configYaml,
    stateDict,
    members: members.map((m) => ({ name: m.rawName.length > 1 ? m.rawName.replace(/\/+$/, '') : m.rawName, size: m.size })),
    extra,
  };
}

/**
 * Writes an uncompressed .nemo tar with NeMo's save_to layout ('./', then ./model_config.yaml,
 * ./model_weights.ckpt and any extra files sorted by name), atomically (temporary file in the same folder, fsync, rename).
 */
export function writeNemoArchive(path: string, a: { configYaml: string; stateDict: Map<string, Tensor>; extra?: Map<string, Uint8Array> }): void {
  const files: TarWriteMember[] = [
    { name: `./${NEMO_CONFIG_MEMBER}`, data: new TextEncoder().encode(a.configYaml) },
    { name: `./${NEMO_WEIGHTS_MEMBER}`, data: saveTorchSave(a.stateDict, { keepRequiresGrad: false }) },
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
  writeFileAtomic(path, writeTar([{ name: './', type: 'dir' }, ...files]));
}
