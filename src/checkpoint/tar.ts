// POSIX tar (ports the subset of Python's tarfile.TarFile that NeMo's save_to / restore_from use: ustar + PAX
// extended headers): a reader that refuses unsafe members and a writer of plain ustar archives.

export class TarError extends Error {
  constructor(where: string, msg: string) {
    super(`${where}: ${msg}`);
    this.name = 'TarError';
  }
}

export type TarMemberType = 'file' | 'dir';

export interface TarMember {
  /** Normalised path: no leading './', no trailing '/'; '.' for the archive root. */
  name: string;
  /** The name exactly as stored (after PAX/GNU long-name overrides). */
  rawName: string;
  type: TarMemberType;
  size: number;
  /** PAX header records that applied to this member. */
  pax: Map<string, string>;
  /** Member contents (a view into the archive bytes). */
  data: Uint8Array;
}

const BLOCK = 512;
const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

function cString(b: Uint8Array): Uint8Array {
  const z = b.indexOf(0);
  return z < 0 ? b : b.subarray(0, z);
}

function parseNumber(field: Uint8Array, what: string, fail: (m: string) => never): number {
  if (field[0]! & 0x80) {
    // GNU base-256: big-endian two's complement in the remaining bytes
    if (field[0]! & 0x40) fail(`negative ${what}`);
    let v = 0n;
    v = BigInt(field[0]! & 0x7f);
    for (let i = 1; i < field.length; i++) v = (v << 8n) | BigInt(field[i]!);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} too large`);
    return Number(v);
  }
  const s = latin1.decode(cString(field)).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) fail(`${what} field '${s}' is not octal`);
  return parseInt(s, 8);
}

/** Normalises a member path, refusing absolute paths and '..' components. */
function safeName(raw: string, fail: (m: string) => never): string {
  if (raw.includes('\0')) fail(`member name ${JSON.stringify(raw)} contains a NUL byte`);
  if (raw.startsWith('/') || /^[A-Za-z]:[\\/]/.test(raw) || raw.startsWith('\\')) fail(`member '${raw}' has an absolute path`);
  const parts = raw.split(/[\\/]/).filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) fail(`member '${raw}' escapes the archive with '..'`);
  return parts.length === 0 ? '.' : parts.join('/');
}

function parsePax(data: Uint8Array, fail: (m: string) => never): Map<string, string> {
  const out = new Map<string, string>();
  let p = 0;
  while (p < data.length) {
    if (data[p] === 0) break;
    const sp = data.indexOf(0x20, p);
    if (sp < 0) fail('malformed PAX record (no length)');
    const len = Number(latin1.decode(data.subarray(p, sp)));
    if (!Number.isInteger(len) || len <= 0 || p + len > data.length || data[p + len - 1] !== 0x0a) fail('malformed PAX record length');
    const rec = utf8.decode(data.subarray(sp + 1, p + len - 1));
    const eq = rec.indexOf('=');
    if (eq < 0) fail(`malformed PAX record '${rec}'`);
    out.set(rec.slice(0, eq), rec.slice(eq + 1));
    p += len;
  }
  return out;
}

/** Lists and reads the members of an uncompressed tar held in memory. `where` names the archive in errors. */
export function readTar(bytes: Uint8Array, where = '<tar>'): TarMember[] {
  const members: TarMember[] = [];
  let pos = 0;
  let pax = new Map<string, string>();
  let longName: string | null = null;
  const seen = new Set<string>();
  while (pos + BLOCK <= bytes.length) {
    const h = bytes.subarray(pos, pos + BLOCK);
    if (h.every((b) => b === 0)) break; // end-of-archive marker
    const headerAt = pos;
    const storedName = latin1.decode(cString(h.subarray(0, 100)));
    const fail = (msg: string): never => {
      throw new TarError(where, `member '${longName ?? pax.get('path') ?? storedName}' (header at byte ${headerAt}): ${msg}`);
    };
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    const stored = parseNumber(h.subarray(148, 156), 'checksum', fail);
    if (stored !== sum) fail(`header checksum ${stored} != computed ${sum}; not a tar archive or corrupt`);
    const typeflag = String.fromCharCode(h[156]!);
    let size = parseNumber(h.subarray(124, 136), 'size', fail);
    const magic = latin1.decode(h.subarray(257, 263));
    let name = storedName;
    if (magic.startsWith('ustar')) {
      const prefix = latin1.decode(cString(h.subarray(345, 500)));
      if (prefix !== '') name = `${prefix}/${storedName}`;
    }
    if (pax.has('size')) {
      const s = Number(pax.get('size'));
      if (!Number.isSafeInteger(s) || s < 0) fail(`bad PAX size '${pax.get('size')}'`);
      size = s;
    }
    if (pax.has('path')) name = pax.get('path')!;
    if (longName !== null) name = longName;
    const dataStart = pos + BLOCK;
    if (dataStart + size > bytes.length) fail(`size ${size} runs past the end of the archive (${bytes.length} bytes)`);
    const data = bytes.subarray(dataStart, dataStart + size);
    pos = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    switch (typeflag) {
      case 'x': // PAX header for the next member
        pax = parsePax(data, fail);
        continue;
      case 'g': // PAX global header: nothing we use
        continue;
      case 'L': // GNU long name for the next member
        longName = latin1.decode(cString(data));
        continue;
      case '0':
      case '\0':
      case '7':
      case '5': {
        const isDir = typeflag === '5';
        const norm = safeName(name, fail);
        if (seen.has(norm)) fail('appears twice in the archive');
        seen.add(norm);
        members.push({ name: norm, rawName: name, type: isDir ? 'dir' : 'file', size: isDir ? 0 : size, pax, data: isDir ? new Uint8Array(0) : data });
        break;
      }
      case '1':
        return fail('is a hard link; links are refused');
      case '2':
        return fail('is a symbolic link; links are refused');
      case '3':
      case '4':
        return fail('is a device node; refused');
      case '6':
        return fail('is a FIFO; refused');
      default:
        return fail(`has unsupported type '${typeflag}'`);
    }
    pax = new Map();
    longName = null;
  }
  if (pax.size > 0 || longName !== null) throw new TarError(where, 'archive ends after an extended header with no member');
  return members;
}

function octal(value: number, width: number): string {
  const s = value.toString(8);
  if (s.length > width - 1) throw new RangeError(`tar: ${value} does not fit in a ${width}-byte octal field`);
  return s.padStart(width - 1, '0');
}

function header(name: string, typeflag: '0' | '5' | 'x', size: number, mode: number, mtime: number): Uint8Array {
  const h = new Uint8Array(BLOCK);
  const put = (s: string, at: number, width: number): void => {
    const b = Buffer.from(s, 'utf8');
    if (b.length > width) throw new RangeError(`tar: '${s}' does not fit in a ${width}-byte field`);
    h.set(b, at);
  };
  put(name, 0, 100);
  put(octal(mode, 8), 100, 8);
  put(octal(0, 8), 108, 8); // uid
  put(octal(0, 8), 116, 8); // gid
  put(octal(size, 12), 124, 12);
  put(octal(mtime, 12), 136, 12);
  h[156] = typeflag.charCodeAt(0);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

export interface TarWriteMember {
  name: string;
  /** Omitted for directories. */
  data?: Uint8Array;
  type?: TarMemberType;
}

/**
 * An uncompressed ustar archive of `members` (names longer than 100 bytes and sizes of 8 GiB or more get PAX
 * records), ending
 * with the two zero blocks. Returns the archive as chunks in order (no single large copy).
 */
export function writeTar(members: readonly TarWriteMember[], mtime = Math.floor(Date.now() / 1000)): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of members) {
    const isDir = m.type === 'dir';
    const size = isDir ? 0 : (m.data?.length ?? 0);
    let name = isDir && !m.name.endsWith('/') ? `${m.name}/` : m.name;
    const longName = Buffer.byteLength(name) > 100;
    const hugeSize = size > 0o77777777777; // more than 11 octal digits (8 GiB): size goes in a PAX record
    if (longName || hugeSize) {
      const rec = Buffer.from((longName ? paxRecord('path', name) : '') + (hugeSize ? paxRecord('size', String(size)) : ''), 'utf8');
      out.push(header('././@PaxHeader', 'x', rec.length, 0o644, mtime), rec, new Uint8Array((BLOCK - (rec.length % BLOCK)) % BLOCK));
      if (longName) name = name.slice(0, 99);
    }
    out.push(header(name, isDir ? '5' : '0', hugeSize ? 0 : size, isDir ? 0o755 : 0o644, mtime));
    if (!isDir && m.data) {
      out.push(m.data);
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;
      if (pad > 0) out.push(new Uint8Array(pad));
    }
  }
  out.push(new Uint8Array(2 * BLOCK));
  return out;
}
