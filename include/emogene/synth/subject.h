// The rendered synthetic subject (`synth --kind subject`): camera, framing and the contact sheet.
#pragma once

#include "emogene/core/image.h"
#include "emogene/landmarks/landmarks.h"
#include "emogene/synth/render.h"
#include "emogene/synth/synth.h"

namespace emogene::synth {

// Smallest frame size: below it dlib's detector (faces ≥ ~80 px wide) cannot find the face even
// with one upsampling step; the face is about 0.4 × size wide (≈ 100 px at 256).
constexpr int kMinSubjectSize = 96;
// Height of the eyes above the optical axis (canonical units): puts the eyes at ~40% of the frame
// height from the top, with the neck and shoulders below the chin.
constexpr float kSubjectEyeHeight = 0.37f;

// Intrinsics of a subject dataset at `size` (fx = fy = 560 · size / 256, principal point centred).
Camera subject_camera(int size);
// Head pose with the given yaw (about +y) and pitch (about +x), at the subject's framing.
Pose frontal_pose(float yaw_deg, float pitch_deg);
// The contact sheet of `synth --preview` (5 columns, 4 rows): the 8 emotions at full intensity; visemes
// a, O, i:, f, m; eyes shut; yaw −25°, 0°, +25°; pitch ±12°; happy speaking at yaw 15°.
Image subject_contact_sheet(const SubjectRenderer& r, const landmarks::Shape& neutral, const Camera& cam,
                            const Image& background);

SynthSummary run_subject(const SynthOptions& opt);

}  // namespace emogene::synth
