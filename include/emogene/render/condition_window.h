// The subject NeRF's condition window: which landmark frames condition the frame at the centre.
// One rule for training, evaluation, rendering and benchmarks (issue 26 §4):
//   W frames (W odd) centred on the frame, at the model's frame rate; positions before the first
//   frame of the frame's clip (or sequence) repeat the first frame, those past its last repeat the
//   last (the window never reaches into another clip of a take).
// Plain buffers, no LibTorch.
#pragma once

#include <cstdint>
#include <vector>

namespace emogene::render {

// Indices of the window of frame `centre` in a sequence whose clip spans [first, last].
std::vector<std::int64_t> condition_window_indices(std::int64_t centre, std::int64_t window, std::int64_t first,
                                                   std::int64_t last);

// The window at a time: the frame positions time·fps − ½ + k − W/2 (k = 0 … W − 1), each linearly
// interpolated between its neighbouring frames of `landmarks` ([frames, 68, 3] at `fps`) and
// clamped to the sequence's ends. At a frame's centre time ((i + ½)/fps) this is exactly
// condition_window_indices(i, W, 0, frames − 1). out: [W, 68, 3].
void condition_window_at(const float* landmarks, std::int64_t frames, double fps, double time, std::int64_t window,
                         float* out);

}  // namespace emogene::render
