// The typed argv parser used by every command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgError, closest, formatOptions, parseArgs, type OptionsSpec } from '../../src/cli/args.js';

const spec = {
  config: { type: 'string', short: 'c', help: 'config' },
  maxSteps: { type: 'integer', default: 10 },
  lr: { type: 'number' },
  dryRun: { type: 'boolean' },
  tag: { type: 'string', multiple: true },
  mode: { type: 'string', choices: ['a', 'b'] },
} satisfies OptionsSpec;

test('values in both forms, aliases, booleans, defaults', () => {
  const a = parseArgs(['--config', 'tiny', '--max-steps=5', '--lr', '1e-3', '--dry-run', 'x'], spec);
  assert.equal(a.options.config, 'tiny');
  assert.equal(a.options.maxSteps, 5);
  assert.equal(a.options.lr, 0.001);
  assert.equal(a.options.dryRun, true);
  assert.deepEqual(a.positionals, ['x']);
  const b = parseArgs(['-c', 'base', '--no-dry-run'], spec);
  assert.equal(b.options.config, 'base');
  assert.equal(b.options.maxSteps, 10);
  assert.equal(b.options.dryRun, false);
  assert.equal(b.options.lr, undefined);
  assert.equal(parseArgs(['--dry-run=false'], spec).options.dryRun, false);
});

test('repeated options and key=value overrides', () => {
  const a = parseArgs(['--tag', 'a', 'model.d_model=256', '--tag=b', 'trainer.max_steps=3', 'plain'], spec, { overrides: true });
  assert.deepEqual(a.options.tag, ['a', 'b']);
  assert.deepEqual(a.overrides, [
    { key: 'model.d_model', value: '256', text: 'model.d_model=256' },
    { key: 'trainer.max_steps', value: '3', text: 'trainer.max_steps=3' },
  ]);
  assert.deepEqual(a.positionals, ['plain']);
  // without `overrides`, key=value stays a positional
  assert.deepEqual(parseArgs(['a=b'], spec).positionals, ['a=b']);
  // values with '=' inside keep everything after the first '='
  assert.deepEqual(parseArgs(['x.y=a=b'], spec, { overrides: true }).overrides, [{ key: 'x.y', value: 'a=b', text: 'x.y=a=b' }]);
  // Hydra's add / force-add / delete forms, including a bare ~key
  assert.deepEqual(
    parseArgs(['+a.b=1', '++c=2', '~d.e', '~f=3'], spec, { overrides: true }).overrides.map((o) => o.text),
    ['+a.b=1', '++c=2', '~d.e', '~f=3'],
  );
  // `--` ends options; negative numbers are values
  const c = parseArgs(['--lr', '-0.5', '--', '--dry-run'], spec);
  assert.equal(c.options.lr, -0.5);
  assert.deepEqual(c.positionals, ['--dry-run']);
});

test('errors are ArgErrors with clear messages', () => {
  assert.throws(
    () => parseArgs(['--max-step', '3'], spec),
    (e: unknown) => e instanceof ArgError && /did you mean --max-steps/.test(e.message),
  );
  assert.throws(() => parseArgs(['--max-steps', '2.5'], spec), /expected an integer/);
  assert.throws(() => parseArgs(['--lr', 'fast'], spec), /expected a number/);
  assert.throws(() => parseArgs(['--config'], spec), /needs a value/);
  assert.throws(() => parseArgs(['--config', 'a', '--config', 'b'], spec), /more than once/);
  assert.throws(() => parseArgs(['--mode', 'c'], spec), /one of a, b/);
  assert.throws(() => parseArgs(['--dry-run=maybe'], spec), /true or false/);
  assert.throws(() => parseArgs(['x'], spec, { maxPositionals: 0 }), /unexpected argument 'x'/);
});

test('help text and suggestions', () => {
  const h = formatOptions(spec);
  assert.match(h, /-c, --config VALUE\s+config/);
  assert.match(h, /--max-steps N\s+\(default: 10\)/);
  assert.match(h, /--mode a\|b/);
  assert.equal(closest('pretrian', ['pretrain', 'info', 'export']), 'pretrain');
  assert.equal(closest('inf', ['pretrain', 'info']), 'info');
  assert.equal(closest('qqqqqq', ['pretrain', 'info']), undefined);
});
