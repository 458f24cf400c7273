import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c, maskedCrc32c } from '../../src/train/crc32c.js';
import { TensorBoardWriter, readScalarEvents, frameRecord, encodeEvent } from '../../src/train/tensorboard.js';

test('CRC-32C matches the standard check value and the TFRecord mask', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 test vector: 32 bytes of zeros
  // mask: rotate right 15 and add 0xa282ead8
  const c = crc32c(Buffer.from('abc'));
  assert.equal(maskedCrc32c(Buffer.from('abc')), ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0);
});

test('event file: file_version record first, scalars round-trip with their steps, CRCs verified', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sn-tb-'));
  const w = new TensorBoardWriter(dir);
  w.scalars(1, { train_loss: 6.25, learning_rate: 1e-4 });
  w.scalars(2, { train_loss: 5.5, nan_is_dropped: NaN });
  w.close();
  const files = readdirSync(dir);
  assert.equal(files.length, 1);
  assert.match(files[0]!, /^events\.out\.tfevents\.\d+\./);
  const bytes = readFileSync(join(dir, files[0]!));
  const ev = readScalarEvents(bytes);
  assert.deepEqual(
    ev.map((e) => [e.step, e.tag, Number(e.value.toPrecision(6))]),
    [
      [1, 'train_loss', 6.25],
      [1, 'learning_rate', 0.0001],
      [2, 'train_loss', 5.5],
    ],
  );
  // a flipped byte in the payload is detected
  const bad = Uint8Array.from(bytes);
  bad[bad.length - 6] = bad[bad.length - 6]! ^ 0xff;
  assert.throws(() => readScalarEvents(bad), /CRC/);
});

test('the first record is the exact bytes TensorBoard expects for brain.Event:2', () => {
  const rec = frameRecord(encodeEvent({ wallTime: 0, fileVersion: 'brain.Event:2' }));
  // Event{wall_time=0 (field 1, fixed64), file_version="brain.Event:2" (field 3)}
  assert.deepEqual([...rec.subarray(12, 12 + 9)], [0x09, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...rec.subarray(21, 23)], [0x1a, 13]);
  assert.equal(Buffer.from(rec.subarray(23, 36)).toString(), 'brain.Event:2');
});
