// The performer (DESIGN §1, §2 pose/): turns generated landmarks into a performance of one subject
// — head poses replayed from the subject's own take, idle motion in silent stretches, blinks, a
// relaxed closed mouth when not speaking, and landmarks drawn towards the subject's own range so
// its NeRF sees conditions near those it was trained on. Plain buffers (no LibTorch), seeded and
// deterministic.
//
// EmoGene (the seed) handles only a wholly silent file: it measures the idle stretches of the
// training video and inserts copies of the first idle pose. Here every silent stretch of the input
// (voice activity, per frame) is performed:
//   - the output is cut into runs of speaking and idle frames; each run takes a continuous run of
//     the subject's own poses of the same kind (speaking poses for speech, idle poses for silence),
//     starting where the subject's pose is closest to the pose the previous run ended on (among a
//     seeded choice of candidates), read back and forth (mirrored indexing) when the output run is
//     longer than the subject's;
//   - at every cut, the new run is carried onto the old run's last pose and the correction fades out
//     over `blend_seconds` (rotation by slerp, translation by the same smoothstep), so no jump;
//   - idle frames get the subject's neutral mouth plus the emotion's own mouth change (closed and
//     relaxed, a smile stays a smile), faded in and out over `mouth_seconds`;
//   - blinks: intervals and durations measured on the subject's take (eye aspect ratio dips; the
//     defaults when it shows none), drawn by a seeded renewal process, less often while speaking;
//     a blink moves the eyelids of both eyes together;
//   - the subject's own range (EmoGene's LLE step, after Roweis & Saul 2000): each frame's frontal
//     landmarks are rebuilt from its k nearest neighbours in the subject's landmark database with
//     locally linear weights, and moved that far (`lle_strength`) towards the rebuilt shape. The
//     distance to the database, against the database's own spread, says when the requested emotion
//     lies outside what the subject's video showed.
#pragma once

#include <cstdint>
#include <vector>

#include "emogene/landmarks/landmarks.h"

namespace emogene::pose {

// A subject's take as the performer needs it (from a nerf checkpoint or a subject dataset).
struct SubjectTake {
  double fps = 25;
  std::vector<float> poses;          // [T, 4, 4] head → camera
  std::vector<std::uint8_t> idle;    // [T] 1 = idle
  std::vector<std::int32_t> clip;    // [T] clip index: pose runs never cross a clip boundary
  landmarks::Sequence landmarks;     // [T, 68, 3] canonical, as shown (blinks included)
  std::vector<std::uint8_t> in_database;  // [T] 1 = part of the landmark database (training frames)
  std::int64_t frames() const { return static_cast<std::int64_t>(idle.size()); }
};

struct Run {
  std::int64_t first = 0, count = 0;
  bool idle = false;
};
// Maximal runs of equal idle flags that stay within one clip (clip may be empty: one clip).
std::vector<Run> runs_of(const std::vector<std::uint8_t>& idle, const std::vector<std::int32_t>& clip = {});

// Blink statistics of a take: blinks are dips of the eye aspect ratio below `dip` × its median.
struct BlinkStats {
  double mean_interval = 4.0;  // seconds between blink onsets (human average ~ 15-20 a minute)
  double mean_duration = 0.2;  // seconds
  std::int64_t blinks = 0;     // counted in the take (0: the defaults above)
};
BlinkStats measure_blinks(const landmarks::Sequence& take, double fps, double dip = 0.6);

struct PerformerOptions {
  bool idle = true;              // false (--idle off): every frame is performed as speech
  std::uint64_t seed = 0;
  double blend_seconds = 0.4;    // pose correction fade at each cut
  double mouth_seconds = 0.12;   // mouth relaxation fade at idle boundaries
  int candidates = 16;           // start poses considered for each run
  bool blinks = true;
  double speaking_blink_factor = 0.7;  // blink rate while speaking, relative to idle
  int lle_k = 10;                // neighbours
  double lle_strength = 0.3;     // 0 = off, 1 = fully the rebuilt shape
  double far_ratio = 3.0;        // warn when the median distance exceeds this × the database's own
};

struct Performance {
  landmarks::Sequence landmarks;   // [T, 68, 3] final
  std::vector<float> poses;        // [T, 4, 4]
  std::vector<std::uint8_t> idle;  // [T]
  std::vector<float> blink;        // [T] eyelid parameter, 1 open, 0 shut
  double database_distance = 0;    // median nearest-neighbour distance of the output (IOD units)
  double database_spread = 0;      // the same within the database (leave-one-out)
  bool far_from_database = false;  // database_distance > far_ratio × database_spread
};

// Performs T frames at the take's fps. emotional: the landmarks to show [T, 68, 3]; neutral: the
// same before motion-to-emotion (its difference from `emotional` is the emotion, kept in idle
// mouths); neutral_shape: the subject's; idle: [T] from voice activity. bad_input on mismatched
// lengths or an empty take.
Performance perform(const landmarks::Sequence& emotional, const landmarks::Sequence& neutral,
                    const landmarks::Shape& neutral_shape, const std::vector<std::uint8_t>& idle, const SubjectTake& take,
                    const PerformerOptions& opt);

}  // namespace emogene::pose
