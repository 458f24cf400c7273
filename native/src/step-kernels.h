#pragma once
#include <ATen/ATen.h>

namespace streamnest {

/**
 * A depthwise 1-D convolution over the windows of a streaming step (the Conformer conv module's causal depthwise conv
 * with its cache in front): x [B, C, L] (float32, CPU, unit stride along L), weight [C, 1, K], bias [C] when defined ->
 * y [B, C, L - K + 1], y[b, c, t] = bias[c] + sum_k w[c, k] x[b, c, t + k], summed in k's order. An undefined tensor
 * where it does not apply (another dtype or device, K > L): the caller keeps ATen's route. See step-kernels.cc.
 */
at::Tensor DepthwiseWindows(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

}  // namespace streamnest
