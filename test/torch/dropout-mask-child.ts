// Child process of dropout-mask.test.ts: run with STREAMNEST_DROPOUT_KERNEL set, prints (JSON) the loop the addon
// chose and a SHA-256 of each mask that maskDigests makes.
import { maskDigests } from './dropout-mask-helpers.js';
import { native } from '../../src/torch/native.js';

console.log(JSON.stringify({ kernel: native.dropoutMaskKernel(), digests: maskDigests() }));
