// Voice activity: which stretches of a recording are speech. Frame energy against an estimated
// noise floor, with hysteresis (a higher threshold to enter speech than to stay in it) and minimum
// durations, so a constant noise floor, breaths and short gaps between words do not split speech.
#pragma once

#include <cstdint>
#include <vector>

namespace emogene::audio {

struct VadOptions {
  double frame_seconds = 0.025;     // analysis window
  double hop_seconds = 0.010;       // analysis step
  double enter_db = 12.0;           // frame energy above the noise floor to enter speech
  double exit_db = 6.0;             // ... and to stay in it (hysteresis)
  double min_speech_seconds = 0.10; // shorter bursts are dropped
  double min_silence_seconds = 0.30; // shorter gaps are bridged
  double absolute_floor_db = -60.0; // frames quieter than this (dBFS) are never speech
  double pad_seconds = 0.03;        // each segment is widened by this much on both sides
};

struct Segment {
  double start = 0;  // seconds
  double end = 0;
};

// Speech segments of a mono signal, in seconds, sorted and disjoint.
std::vector<Segment> detect_speech(const std::vector<float>& mono, int sample_rate, const VadOptions& opt = {});

// Per video frame: 1 = idle (no speech overlaps the frame's interval [i/fps, (i+1)/fps)), 0 = speaking.
std::vector<std::uint8_t> idle_mask(const std::vector<Segment>& speech, std::int64_t num_frames, double fps);

}  // namespace emogene::audio
