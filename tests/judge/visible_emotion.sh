#!/usr/bin/env bash
# Visible emotion of the synthetic subject's ground truth (issue 19), judged by face-api's
# expression net (tools/judge: trained on real faces, independent of this project, never a loss).
# The contact sheet of `synth --kind subject --preview` holds every emotion at intensity 1 with the
# mouth at rest; the top class of neutral, happy, sad and surprised must be right.
#   tests/judge/visible_emotion.sh EMOGENE_BINARY WORKDIR
set -euo pipefail
bin=${1:?usage: visible_emotion.sh EMOGENE WORKDIR}
work=${2:?usage: visible_emotion.sh EMOGENE WORKDIR}
here="$(cd "$(dirname "$0")/../.." && pwd)"
rm -rf "$work"
mkdir -p "$work"
"$bin" -q synth --kind subject --seconds 2 --size 256 --preview -o "$work/subject"
"$here/tools/judge/judge" "$work/subject/preview.png" --sheet --no-descriptor --no-landmarks --quiet --out "$work/judge"
node -e '
const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const want = ["neutral", "happy@1", "sad@1", "surprised@1"];
let bad = 0;
for (const name of want) {
  const g = s.groups.find((x) => x.group === name);
  const ok = g && g.correct === true;
  if (!ok) bad++;
  console.log(`${name}: top ${g ? g.top_class : "missing"}, P(target) ${g && g.p_target !== null ? g.p_target.toFixed(3) : "-"} ${ok ? "right" : "WRONG"}`);
}
console.log(`${want.length - bad} passed, ${bad} failed`);
process.exit(bad ? 1 : 0);
' "$work/judge/summary.json"
