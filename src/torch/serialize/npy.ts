// NumPy .npy files (format 1.0-3.0, little-endian, C order): read into and write from tensors.
import { readFileSync, writeFileSync } from 'node:fs';
import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import type { DType } from '../dtype.js';
import { contiguous } from '../ops/shape.js';

const DESCR_TO_DTYPE: Record<string, DType> = {
  '<f4': 'float32',
  '<f8': 'float64',
  '<f2': 'float16',
  '<i8': 'int64',
  '<i4': 'int32',
  '<i2': 'int16',
  '|i1': 'int8',
  '|u1': 'uint8',
  '|b1': 'bool',
};
const DTYPE_TO_DESCR: Partial<Record<DType, string>> = Object.fromEntries(Object.entries(DESCR_TO_DTYPE).map(([k, v]) => [v, k]));

export class NpyError extends Error {
  constructor(where: string, msg: string) {
    super(`${where}: ${msg}`);
    this.name = 'NpyError';
  }
}

/** Parses .npy bytes into a tensor (a copy). `where` names the source in errors. */
export function parseNpy(buf: Uint8Array, where = '<npy>'): Tensor {
  if (buf.length < 10 || buf[0] !== 0x93 || String.fromCharCode(...buf.subarray(1, 6)) !== 'NUMPY') {
    throw new NpyError(where, 'not a .npy file (bad magic)');
  }
  const major = buf[6]!;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let headerLen: number;
  let offset: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    offset = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw new NpyError(where, 'truncated header');
    headerLen = view.getUint32(8, true);
    offset = 12;
  } else {
    throw new NpyError(where, `unsupported .npy version ${major}`);
  }
  if (offset + headerLen > buf.length) throw new NpyError(where, 'truncated header');
  const header = new TextDecoder().decode(buf.subarray(offset, offset + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeStr === undefined) throw new NpyError(where, `malformed header ${header.trim()}`);
  if (fortran === 'True') throw new NpyError(where, 'Fortran-order arrays are not supported');
  const dtype = DESCR_TO_DTYPE[descr];
  if (!dtype) throw new NpyError(where, `unsupported dtype '${descr}' (little-endian float/int/bool only)`);
  const shape = shapeStr
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number(s));
  if (shape.some((s) => !Number.isInteger(s) || s < 0)) throw new NpyError(where, `bad shape (${shapeStr})`);
  const data = buf.subarray(offset + headerLen);
  const itemSize = descr.endsWith('8') ? 8 : descr.endsWith('4') ? 4 : descr.endsWith('2') ? 2 : 1;
  const need = shape.reduce((a, b) => a * b, 1) * itemSize;
  if (data.length < need) throw new NpyError(where, `data truncated: ${data.length} bytes, need ${need}`);
  // copy into an aligned buffer
  const aligned = new Uint8Array(need);
  aligned.set(data.subarray(0, need));
  return new Tensor(native.fromBuffer(aligned, dtype, shape));
}

export function readNpy(path: string): Tensor {
  return parseNpy(readFileSync(path), path);
}

/** Serialises a tensor as .npy (version 1.0) bytes. */
export function toNpy(t: Tensor): Uint8Array {
  const descr = DTYPE_TO_DESCR[t.dtype];
  if (!descr) throw new NpyError('<npy>', `cannot write dtype ${t.dtype}`);
  const shape = t.shape;
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const c = contiguous(t);
  const data = new Uint8Array(c.toBuffer());
  c.dispose();
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, ...Buffer.from('NUMPY'), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(data, 10 + header.length);
  return out;
}

export function writeNpy(path: string, t: Tensor): void {
  writeFileSync(path, toNpy(t));
}
