// A small typed argv parser for streamnest's commands.
//
//   const spec = { config: { type: 'string', help: 'config name or path' },
//                  maxSteps: { type: 'integer', default: 100 },
//                  dryRun: { type: 'boolean' } } satisfies OptionsSpec;
//   const a = parseArgs(argv, spec, { overrides: true });
//   a.options.maxSteps  // number      a.options.config  // string | undefined
//   a.overrides         // [{ key: 'model.d_model', value: '256' }, ...]  from `model.d_model=256`
//
// Accepted forms: `--max-steps 5`, `--max-steps=5`, `--dry-run`, `--no-dry-run`, `--dry-run=false`,
// one-letter aliases (`-c tiny`), repeated options when `multiple: true`, `--` to end options.
// Option keys are camelCase; on the command line they are kebab-case (maxSteps -> --max-steps).

export type OptionType = 'string' | 'number' | 'integer' | 'boolean';

export interface OptionSpec {
  type: OptionType;
  /** One-letter alias, without the dash. */
  short?: string;
  /** May be given several times; the value is then an array (default []). */
  multiple?: boolean;
  default?: string | number | boolean;
  /** Allowed values (strings only). */
  choices?: readonly string[];
  help?: string;
  /** Placeholder for the value in help text (default: the type in capitals). */
  metavar?: string;
}

export type OptionsSpec = Record<string, OptionSpec>;

type ValueOf<T extends OptionType> = T extends 'boolean' ? boolean : T extends 'string' ? string : number;

/** The typed option values for a spec. */
export type ParsedOptions<S extends OptionsSpec> = {
  [K in keyof S]: S[K] extends { multiple: true }
    ? ValueOf<S[K]['type']>[]
    : S[K] extends { default: string | number | boolean }
      ? ValueOf<S[K]['type']>
      : ValueOf<S[K]['type']> | undefined;
};

export interface Override {
  /** Dotted key, e.g. `model.encoder.d_model`. */
  key: string;
  /** The raw string after the first `=` (typing is the consumer's job); '' for a bare `~key`. */
  value: string;
  /** The argument as typed (`key=value`, `+key=value`, `~key`): what the config loader parses. */
  text: string;
}

export interface ParsedArgs<S extends OptionsSpec> {
  options: ParsedOptions<S>;
  positionals: string[];
  overrides: Override[];
}

export interface ParseConfig {
  /** Treat `key=value` positionals as overrides (default false: they are plain positionals). */
  overrides?: boolean;
  /** Highest number of plain positionals accepted (default: Infinity). */
  maxPositionals?: number;
}

/** A command-line usage error: the CLI prints it and exits with code 2. */
export class ArgError extends Error {
  override readonly name = 'ArgError';
}

export const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

// `key=value`, and Hydra's `+key=value` (add), `++key=value` (add or set), `~key=value` (delete if equal)
const OVERRIDE_RE = /^(?:(?:\+\+|\+|~)?[A-Za-z_][\w.\-[\]]*=|~[A-Za-z_][\w.\-[\]]*$)/;

function convert(flag: string, spec: OptionSpec, raw: string): string | number | boolean {
  switch (spec.type) {
    case 'boolean': {
      const v = raw.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      throw new ArgError(`${flag}: expected true or false, got '${raw}'`);
    }
    case 'integer':
    case 'number': {
      const n = raw.trim() === '' ? NaN : Number(raw);
      if (!Number.isFinite(n)) throw new ArgError(`${flag}: expected a number, got '${raw}'`);
      if (spec.type === 'integer' && !Number.isInteger(n)) throw new ArgError(`${flag}: expected an integer, got '${raw}'`);
      return n;
    }
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) {
        throw new ArgError(`${flag}: expected one of ${spec.choices.join(', ')}, got '${raw}'`);
      }
      return raw;
  }
}

/** Parses argv (without the command name) against a spec. Throws ArgError on unknown or malformed options. */
export function parseArgs<S extends OptionsSpec>(argv: readonly string[], spec: S, config: ParseConfig = {}): ParsedArgs<S> {
  const byFlag = new Map<string, string>();
  for (const key of Object.keys(spec)) {
    byFlag.set('--' + kebab(key), key);
    const s = spec[key]!.short;
    if (s !== undefined) {
      if (s.length !== 1) throw new Error(`option ${key}: short alias must be one character, got '${s}'`);
      byFlag.set('-' + s, key);
    }
  }
  const values: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(spec)) {
    if (s.multiple) values[key] = [];
    else if (s.default !== undefined) values[key] = s.default;
  }
  const positionals: string[] = [];
  const overrides: Override[] = [];
  const seen = new Set<string>();

  const set = (flag: string, key: string, raw: string): void => {
    const s = spec[key]!;
    const v = convert(flag, s, raw);
    if (s.multiple) (values[key] as unknown[]).push(v);
    else {
      if (seen.has(key)) throw new ArgError(`${flag} given more than once`);
      values[key] = v;
    }
    seen.add(key);
  };
  const positional = (a: string): void => {
    if (config.overrides && OVERRIDE_RE.test(a)) {
      const i = a.indexOf('=');
      overrides.push(i < 0 ? { key: a, value: '', text: a } : { key: a.slice(0, i), value: a.slice(i + 1), text: a });
      return;
    }
    positionals.push(a);
  };

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      for (const rest of argv.slice(i + 1)) positional(rest);
      break;
    }
    if (!a.startsWith('-') || a === '-' || /^-\d/.test(a)) {
      positional(a);
      continue;
    }
    const eq = a.indexOf('=');
    const flag = eq >= 0 ? a.slice(0, eq) : a;
    const inline = eq >= 0 ? a.slice(eq + 1) : undefined;
    const key = byFlag.get(flag);
    if (key === undefined && flag.startsWith('--no-')) {
      const k = byFlag.get('--' + flag.slice(5));
      if (k !== undefined && spec[k]!.type === 'boolean' && inline === undefined) {
        set(flag, k, 'false');
        continue;
      }
    }
    if (key === undefined) {
      const hint = closest(
        flag,
        [...byFlag.keys()].filter((f) => f.startsWith('--')),
      );
      throw new ArgError(`unknown option ${flag}${hint ? ` (did you mean ${hint}?)` : ''}`);
    }
    const s = spec[key]!;
    if (inline !== undefined) set(flag, key, inline);
    else if (s.type === 'boolean') set(flag, key, 'true');
    else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) throw new ArgError(`${flag} needs a value`);
      set(flag, key, next);
      i++;
    }
  }
  if (config.maxPositionals !== undefined && positionals.length > config.maxPositionals) {
    throw new ArgError(
      config.maxPositionals === 0
        ? `unexpected argument '${positionals[0]}'`
        : `too many arguments: ${positionals.join(' ')} (at most ${config.maxPositionals})`,
    );
  }
  return { options: values as ParsedOptions<S>, positionals, overrides };
}

/** Help lines for a spec ("  --max-steps N   help (default: 100)"), for a command's usage text. */
export function formatOptions(spec: OptionsSpec): string {
  const rows = Object.entries(spec).map(([key, s]) => {
    const flag = (s.short ? `-${s.short}, ` : '    ') + '--' + kebab(key);
    const meta = s.type === 'boolean' ? '' : ' ' + (s.metavar ?? (s.choices ? s.choices.join('|') : s.type === 'string' ? 'VALUE' : 'N'));
    let help = s.help ?? '';
    if (s.default !== undefined && s.type !== 'boolean') help += `${help ? ' ' : ''}(default: ${s.default})`;
    if (s.multiple) help += `${help ? ' ' : ''}(repeatable)`;
    return [flag + meta, help] as const;
  });
  const w = Math.max(0, ...rows.map(([l]) => l.length));
  return rows.map(([l, h]) => `  ${l.padEnd(w)}  ${h}`.trimEnd()).join('\n');
}

/** Levenshtein distance (small strings only). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The candidate closest to `word` (prefix matches first), or undefined when none is close enough. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  const prefix = candidates.filter((c) => w.length >= 2 && c.toLowerCase().startsWith(w));
  if (prefix.length === 1) return prefix[0];
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}
