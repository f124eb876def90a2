// emogene judge (TEST ONLY, never a training loss): runs the real-face nets of @vladmandic/face-api
// (SSD MobileNet v1 or tiny detector, 68-point landmarks, 7-class expressions, 128-d descriptor) on
// images, PNG frame folders, videos or an emogene dataset, and reports how visible the emotions are.
// Run through the bash entry `tools/judge/judge`, which installs what this needs. `--help` for usage.

import { createRequire } from 'node:module';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

// Our emotion order (DESIGN) and face-api's class for each; contempt has none.
const EMOTIONS = ['neutral', 'angry', 'contempt', 'disgusted', 'fear', 'happy', 'sad', 'surprised'];
const TO_FACEAPI = {
  neutral: 'neutral', angry: 'angry', contempt: null, disgusted: 'disgusted',
  fear: 'fearful', happy: 'happy', sad: 'sad', surprised: 'surprised',
};
const FACEAPI_CLASSES = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];
const FROM_FACEAPI = Object.fromEntries(Object.entries(TO_FACEAPI).filter(([, v]) => v).map(([k, v]) => [v, k]));
// The seven emotions the accuracy is over (those face-api has a class for).
const ACCURACY_SET = ['neutral', 'happy', 'sad', 'angry', 'fear', 'disgusted', 'surprised'];
const LEVELS = [1 / 3, 2 / 3, 1];
const LEVEL_NAMES = ['1/3', '2/3', '1'];
const VIDEO_EXT = new Set(['.mp4', '.mov', '.mkv', '.avi', '.webm', '.m4v']);
const FACEAPI_VERSION = '1.7.15';
let CURRENT = 'judge';  // what an unexpected error is about: the input, then the frame being judged

const USAGE = `usage: judge INPUT [options]     (TEST ONLY: a judge, never a training loss)
INPUT is one of
  an image (.png; .jpg/.jpeg through djpeg),
  a folder of PNG frames (sorted by name),
  a video (.mp4 .mov .mkv .avi .webm .m4v, decoded by the ffmpeg CLI),
  an emogene dataset folder (has dataset.json; groups by clip emotion and intensity level).
options
  --out DIR              write DIR/frames.json (per frame) and DIR/summary.json
  --target EMOTION       the intended emotion of a plain input (${EMOTIONS.join(' ')})
  --detector ssd|tiny    face detector (default ssd)
  --min-score X          detector score threshold (default 0.3)
  --stride N             take every N-th frame of a video or folder (default 1)
  --frames-per-group N   subsample each group evenly to N frames (default 12; 0 = all)
  --max-frames N         stop after N frames in all (default: no limit)
  --points68 FILE.json   per-frame 68 points {"<key>": [[x,y],...]} that replace face-api's for the
                         mouth-corner asymmetry (keys as the "key" field of frames.json)
  --no-descriptor        leave the 128-d descriptor out of frames.json
  --no-landmarks         leave the 68 points out of frames.json
  --sheet                INPUT is the contact sheet of \`emogene synth --kind subject --preview\`
                         (5 columns x 9 rows of equal cells: rows the 8 emotions, columns intensity
                         1/3, 2/3, 1 at rest and 1 speaking "a" and "O"; the last row is not judged)
  --quiet                no progress on stderr
  -h, --help             this text`;

class BadInput extends Error {
  constructor(file, problem) {
    const one = String(problem).replace(/\s*\n\s*/g, ' ').trim();
    super(`${file}: ${one}`); this.file = file; this.problem = one;
  }
}

// ------------------------------------------------------------------------------------ arguments

function parseArgs(argv) {
  const o = {
    input: null, out: null, target: null, detector: 'ssd', minScore: 0.3, stride: 1, perGroup: 12,
    maxFrames: 0, points68: null, descriptor: true, landmarks: true, quiet: false, sheet: false,
  };
  const need = (i, name) => {
    if (i + 1 >= argv.length) throw new BadInput(name, 'needs a value');
    return argv[i + 1];
  };
  const int = (v, name, min) => {
    if (!/^\d+$/.test(v) || Number(v) < min) throw new BadInput(name, `'${v}' is not an integer >= ${min}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '-h': case '--help': process.stdout.write(USAGE + '\n'); process.exit(0); break;
      case '--out': o.out = need(i, a); i++; break;
      case '--target': {
        const t = need(i, a); i++;
        if (!EMOTIONS.includes(t)) throw new BadInput(a, `unknown emotion '${t}' (one of ${EMOTIONS.join(' ')})`);
        o.target = t; break;
      }
      case '--detector': {
        const d = need(i, a); i++;
        if (d !== 'ssd' && d !== 'tiny') throw new BadInput(a, `'${d}' is neither ssd nor tiny`);
        o.detector = d; break;
      }
      case '--min-score': {
        const v = Number(need(i, a)); i++;
        if (!(v > 0 && v < 1)) throw new BadInput(a, 'must be a number in (0, 1)');
        o.minScore = v; break;
      }
      case '--stride': o.stride = int(need(i, a), a, 1); i++; break;
      case '--frames-per-group': o.perGroup = int(need(i, a), a, 0); i++; break;
      case '--max-frames': o.maxFrames = int(need(i, a), a, 1); i++; break;
      case '--points68': o.points68 = need(i, a); i++; break;
      case '--no-descriptor': o.descriptor = false; break;
      case '--no-landmarks': o.landmarks = false; break;
      case '--quiet': o.quiet = true; break;
      case '--sheet': o.sheet = true; break;
      default:
        if (a.startsWith('-')) throw new BadInput(a, 'unknown option (see --help)');
        if (o.input !== null) throw new BadInput(a, 'a second input; give one image, folder, video or dataset');
        o.input = a;
    }
  }
  if (o.input === null) { process.stderr.write(USAGE + '\n'); throw new BadInput('INPUT', 'missing'); }
  return o;
}

// ------------------------------------------------------------------------------------ PNG decoder

const PNG_SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function paeth(a, b, c) {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

// Decodes an 8-bit, non-interlaced PNG (gray, RGB, palette, gray+alpha, RGBA) to RGB bytes; alpha is dropped.
export function decodePng(buf, file) {
  if (buf.length < 8 || !buf.subarray(0, 8).equals(PNG_SIG)) throw new BadInput(file, 'not a PNG file');
  let pos = 8, ihdr = null, palette = null;
  const idat = [];
  while (pos + 8 <= buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    if (pos + 12 + len > buf.length) throw new BadInput(file, `truncated PNG (chunk ${type})`);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    pos += 12 + len;
    if (type === 'IHDR') {
      if (len < 13) throw new BadInput(file, 'bad PNG IHDR');
      ihdr = {
        w: data.readUInt32BE(0), h: data.readUInt32BE(4), depth: data[8], ctype: data[9],
        comp: data[10], filter: data[11], interlace: data[12],
      };
    } else if (type === 'PLTE') palette = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
  }
  if (!ihdr) throw new BadInput(file, 'PNG without IHDR');
  const { w, h, depth, ctype, interlace } = ihdr;
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[ctype];
  if (channels === undefined) throw new BadInput(file, `PNG colour type ${ctype} is not supported`);
  if (depth !== 8) throw new BadInput(file, `PNG bit depth ${depth} is not supported (only 8-bit)`);
  if (interlace !== 0) throw new BadInput(file, 'interlaced PNG is not supported');
  if (ihdr.comp !== 0 || ihdr.filter !== 0) throw new BadInput(file, 'unknown PNG compression or filter method');
  if (w === 0 || h === 0 || w > 16384 || h > 16384) throw new BadInput(file, `PNG size ${w}x${h} is not supported`);
  if (ctype === 3 && !palette) throw new BadInput(file, 'palette PNG without PLTE');
  if (idat.length === 0) throw new BadInput(file, 'PNG without image data');
  let raw;
  try { raw = zlib.inflateSync(Buffer.concat(idat)); } catch (e) { throw new BadInput(file, `corrupt PNG data (${e.message})`); }
  const stride = w * channels;
  if (raw.length < h * (stride + 1)) throw new BadInput(file, 'PNG image data is too short');
  const px = new Uint8Array(h * stride);
  const bpp = channels;
  for (let y = 0; y < h; y++) {
    const ft = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride, prev = row - stride;
    for (let x = 0; x < stride; x++) {
      const v = raw[src + x];
      const a = x >= bpp ? px[row + x - bpp] : 0;
      const b = y > 0 ? px[prev + x] : 0;
      const c = x >= bpp && y > 0 ? px[prev + x - bpp] : 0;
      let r;
      switch (ft) {
        case 0: r = v; break;
        case 1: r = v + a; break;
        case 2: r = v + b; break;
        case 3: r = v + ((a + b) >> 1); break;
        case 4: r = v + paeth(a, b, c); break;
        default: throw new BadInput(file, `PNG row ${y} has unknown filter type ${ft}`);
      }
      px[row + x] = r & 255;
    }
  }
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0, n = w * h; i < n; i++) {
    if (ctype === 2 || ctype === 6) {
      const s = i * channels;
      rgb[i * 3] = px[s]; rgb[i * 3 + 1] = px[s + 1]; rgb[i * 3 + 2] = px[s + 2];
    } else if (ctype === 3) {
      const k = px[i] * 3;
      if (k + 2 >= palette.length) throw new BadInput(file, 'PNG palette index out of range');
      rgb[i * 3] = palette[k]; rgb[i * 3 + 1] = palette[k + 1]; rgb[i * 3 + 2] = palette[k + 2];
    } else {
      const g = px[i * channels];
      rgb[i * 3] = g; rgb[i * 3 + 1] = g; rgb[i * 3 + 2] = g;
    }
  }
  return { w, h, rgb };
}

// ------------------------------------------------------------------------------------ JPEG via djpeg, PNM

function decodePnm(buf, file) {
  // P6 (RGB) or P5 (gray), maxval 255, as djpeg writes them.
  let pos = 0;
  const tokens = [];
  while (tokens.length < 4) {
    while (pos < buf.length && /\s/.test(String.fromCharCode(buf[pos]))) pos++;
    if (buf[pos] === 0x23) { while (pos < buf.length && buf[pos] !== 0x0a) pos++; continue; }
    const start = pos;
    while (pos < buf.length && !/\s/.test(String.fromCharCode(buf[pos]))) pos++;
    if (start === pos) throw new BadInput(file, 'djpeg wrote a short header');
    tokens.push(buf.toString('latin1', start, pos));
  }
  pos++;
  const [magic, ws, hs, ms] = tokens;
  const w = Number(ws), h = Number(hs);
  if ((magic !== 'P6' && magic !== 'P5') || ms !== '255') throw new BadInput(file, `djpeg wrote unexpected ${magic}/${ms}`);
  const ch = magic === 'P6' ? 3 : 1;
  if (buf.length - pos < w * h * ch) throw new BadInput(file, 'djpeg output is too short');
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = buf[pos + i * ch + (ch === 3 ? c : 0)];
  }
  return { w, h, rgb };
}

function decodeJpeg(file) {
  const r = spawnSync('djpeg', ['-pnm', file], { maxBuffer: 1 << 30 });
  if (r.error && r.error.code === 'ENOENT') throw new BadInput(file, 'JPEG needs djpeg (apt-get install libjpeg-turbo-progs)');
  if (r.status !== 0) throw new BadInput(file, `djpeg failed: ${String(r.stderr).trim().split('\n')[0]}`);
  return decodePnm(r.stdout, file);
}

function readImage(file) {
  let buf;
  try { buf = fs.readFileSync(file); } catch (e) { throw new BadInput(file, `cannot read (${e.code || e.message})`); }
  if (buf.length >= 8 && buf.subarray(0, 8).equals(PNG_SIG)) return decodePng(buf, file);
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return decodeJpeg(file);
  throw new BadInput(file, 'neither PNG nor JPEG');
}

// ------------------------------------------------------------------------------------ .npy reader

export function readNpyF4(file) {
  let buf;
  try { buf = fs.readFileSync(file); } catch (e) { throw new BadInput(file, `cannot read (${e.code || e.message})`); }
  if (buf.length < 10 || buf[0] !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') throw new BadInput(file, 'not a .npy file');
  const major = buf[6];
  let hlen, hstart;
  if (major === 1) { hlen = buf.readUInt16LE(8); hstart = 10; } else if (major === 2 || major === 3) { hlen = buf.readUInt32LE(8); hstart = 12; } else throw new BadInput(file, `.npy format ${major}.x is not supported`);
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) throw new BadInput(file, 'malformed .npy header');
  if (descr[1] !== '<f4') throw new BadInput(file, `.npy dtype ${descr[1]} is not little-endian f4`);
  if (fortran[1] !== 'False') throw new BadInput(file, 'Fortran-order .npy is not supported');
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  const off = hstart + hlen;
  if (buf.length - off < n * 4) throw new BadInput(file, `.npy data is too short for shape (${dims.join(', ')})`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = buf.readFloatLE(off + i * 4);
  return { shape: dims, data };
}

// ------------------------------------------------------------------------------------ input listing

// A frame source: list of items {key, file?, frame, group}, and a reader. Groups: {emotion, level, name}.

function evenPick(n, k) {
  // k indices spread evenly over 0..n-1 (centres of k equal bins); all of them when k is 0 or >= n.
  if (k === 0 || k >= n) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: k }, (_, j) => Math.floor(((j + 0.5) * n) / k));
}

function levelOf(intensity) {
  let best = 0;
  for (let i = 1; i < LEVELS.length; i++) if (Math.abs(intensity - LEVELS[i]) < Math.abs(intensity - LEVELS[best])) best = i;
  return best;
}

function groupName(emotion, levelIdx) { return levelIdx === null ? emotion : `${emotion}@${LEVEL_NAMES[levelIdx]}`; }

function listDataset(dir, o) {
  const metaFile = path.join(dir, 'dataset.json');
  let meta;
  try { meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')); } catch (e) { throw new BadInput(metaFile, `cannot read (${e.message})`); }
  if (!meta || !Array.isArray(meta.clips)) throw new BadInput(metaFile, 'has no clips array');
  const groups = new Map();
  for (const c of meta.clips) {
    if (!c || typeof c.id !== 'string' || !c.id || c.id.includes('/') || c.id.includes('..')) throw new BadInput(metaFile, `invalid clip id '${c && c.id}'`);
    if (!c.has_frames) continue;
    const emotion = c.emotion ?? 'neutral';
    if (!EMOTIONS.includes(emotion)) throw new BadInput(metaFile, `clip '${c.id}' has unknown emotion '${emotion}'`);
    const clipIntensity = Number(c.intensity ?? 0);
    const cdir = path.join(dir, 'clips', c.id);
    const inten = readNpyF4(path.join(cdir, 'intensity.npy'));
    if (inten.shape.length !== 1) throw new BadInput(path.join(cdir, 'intensity.npy'), `shape (${inten.shape}) is not [T]`);
    const T = inten.shape[0];
    const emo = readNpyF4(path.join(cdir, 'emotion.npy'));
    if (emo.shape.length !== 2 || emo.shape[0] !== T || emo.shape[1] !== 8) throw new BadInput(path.join(cdir, 'emotion.npy'), `shape (${emo.shape}) is not [${T}, 8]`);
    const neutral = emotion === 'neutral';
    const levelIdx = neutral ? null : levelOf(clipIntensity);
    const gname = groupName(emotion, levelIdx);
    if (!groups.has(gname)) groups.set(gname, { name: gname, emotion, level: levelIdx === null ? null : LEVEL_NAMES[levelIdx], levelIdx, available: 0, clips: 0, cands: [] });
    const g = groups.get(gname);
    g.clips++;
    for (let t = 0; t < T; t++) {
      if (!neutral && !(inten.data[t] >= 0.9 * clipIntensity)) continue;
      const fnum = String(t).padStart(6, '0');
      g.cands.push({
        key: `${c.id}/${fnum}`, file: path.join(cdir, 'frames', `${fnum}.png`), rel: `clips/${c.id}/frames/${fnum}.png`,
        clip: c.id, frame: t, intensity: inten.data[t], weights: Array.from(emo.data.subarray(t * 8, t * 8 + 8)),
      });
    }
    g.available = g.cands.length;
  }
  if (groups.size === 0) throw new BadInput(metaFile, 'no clip has frames');
  const order = (g) => EMOTIONS.indexOf(g.emotion) * 10 + (g.levelIdx === null ? 0 : g.levelIdx + 1);
  const list = [...groups.values()].sort((a, b) => order(a) - order(b));
  const items = [];
  for (const g of list) {
    for (const i of evenPick(g.cands.length, o.perGroup)) items.push({ ...g.cands[i], group: g.name });
    delete g.cands;
  }
  for (const it of items) if (!fs.existsSync(it.file)) throw new BadInput(it.file, 'frame is missing');
  return { kind: 'dataset', groups: list, items };
}

function plainGroup(o, available) {
  const emotion = o.target;
  return { name: emotion ?? 'all', emotion, level: emotion && emotion !== 'neutral' ? '1' : null, levelIdx: emotion && emotion !== 'neutral' ? 2 : null, available, clips: 1 };
}

function listFolder(dir, o) {
  let names;
  try { names = fs.readdirSync(dir); } catch (e) { throw new BadInput(dir, `cannot read (${e.code || e.message})`); }
  names = names.filter((n) => /\.png$/i.test(n)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (names.length === 0) throw new BadInput(dir, 'folder has no .png frames (and no dataset.json)');
  const strided = [];
  for (let i = 0; i < names.length; i += o.stride) strided.push({ n: names[i], frame: i });
  const g = plainGroup(o, strided.length);
  const items = evenPick(strided.length, o.perGroup).map((i) => ({ key: strided[i].n, file: path.join(dir, strided[i].n), rel: strided[i].n, frame: strided[i].frame, group: g.name }));
  return { kind: 'folder', groups: [g], items };
}

function probeVideo(file) {
  const r = spawnSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=width,height,nb_read_packets', '-of', 'json', file], { encoding: 'utf8' });
  if (r.error && r.error.code === 'ENOENT') throw new BadInput(file, 'video needs ffmpeg/ffprobe (apt-get install ffmpeg)');
  if (r.status !== 0) throw new BadInput(file, `ffprobe cannot read it: ${String(r.stderr).trim().split('\n')[0]}`);
  let s;
  try { s = JSON.parse(r.stdout).streams[0]; } catch { s = null; }
  if (!s || !(s.width > 0) || !(s.height > 0)) throw new BadInput(file, 'has no video stream');
  const n = Number(s.nb_read_packets);
  if (!(n > 0)) throw new BadInput(file, 'video has no frames');
  return { w: s.width, h: s.height, n };
}

function listVideo(file, o) {
  const { w, h, n } = probeVideo(file);
  const strided = [];
  for (let i = 0; i < n; i += o.stride) strided.push(i);
  const g = plainGroup(o, strided.length);
  const items = evenPick(strided.length, o.perGroup).map((i) => ({ key: String(strided[i]), frame: strided[i], group: g.name }));
  return { kind: 'video', groups: [g], items, video: { file, w, h, n } };
}

// Streams a video's frames as rgb24 through ffmpeg and yields those whose index is wanted (sorted).
async function* videoFrames(video, wanted) {
  const { file, w, h } = video;
  const size = w * h * 3;
  const want = new Set(wanted);
  const last = wanted.length ? wanted[wanted.length - 1] : -1;
  const ff = spawn('ffmpeg', ['-v', 'error', '-nostdin', '-i', file, '-map', '0:v:0', '-vsync', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  ff.stderr.on('data', (d) => { err += d; });
  const done = new Promise((res) => ff.on('close', (code, sig) => res({ code, sig })));
  let pend = Buffer.alloc(0), idx = 0, stopped = false;
  try {
    for await (const chunk of ff.stdout) {
      pend = pend.length ? Buffer.concat([pend, chunk]) : chunk;
      while (pend.length >= size) {
        const frame = pend.subarray(0, size);
        pend = pend.subarray(size);
        if (want.has(idx)) yield { index: idx, w, h, rgb: new Uint8Array(frame) };
        idx++;
        if (idx > last) { stopped = true; break; }
      }
      if (stopped) break;
    }
  } finally {
    if (ff.exitCode === null) ff.kill('SIGTERM');
  }
  const { code } = await done;
  if (!stopped && code !== 0) throw new BadInput(file, `ffmpeg failed: ${err.trim().split('\n')[0] || `exit ${code}`}`);
  if (!stopped && idx <= last) process.stderr.write(`judge: warning: ${file}: ffmpeg gave ${idx} frames, fewer than the ${video.n} ffprobe counted; judged those\n`);
}

// The contact sheet of `synth --kind subject --preview`: 5 x 9 cells; row r < 8 is EMOTIONS[r], columns
// 0-2 its intensity 1/3, 2/3, 1 with the mouth at rest, columns 3-4 intensity 1 speaking "a" and "O".
// Groups: emotion@level (neutral: its rest cell) and emotion@1+a / emotion@1+O.
const SHEET_COLS = 5, SHEET_ROWS = 9;
function listSheet(o) {
  const img = readImage(o.input);
  if (img.w % SHEET_COLS || img.h % SHEET_ROWS || img.w / SHEET_COLS !== img.h / SHEET_ROWS) {
    throw new BadInput(o.input, `is ${img.w}x${img.h}, not a contact sheet of ${SHEET_COLS}x${SHEET_ROWS} square cells`);
  }
  const cw = img.w / SHEET_COLS, ch = img.h / SHEET_ROWS;
  const groups = [], items = [];
  for (let r = 0; r < 8; r++) {
    const emotion = EMOTIONS[r];
    for (let c = 0; c < SHEET_COLS; c++) {
      const viseme = c >= 3 ? (c === 3 ? 'a' : 'O') : null;
      if (emotion === 'neutral' && c < 2) continue;  // neutral: one rest cell (its levels are all intensity 0)
      const levelIdx = emotion === 'neutral' && !viseme ? null : (viseme ? 2 : c);
      const name = viseme ? `${emotion}@1+${viseme}` : groupName(emotion, levelIdx);
      const level = viseme ? `1+${viseme}` : (levelIdx === null ? null : LEVEL_NAMES[levelIdx]);
      groups.push({ name, emotion, level, levelIdx, available: 1, clips: 1 });
      const rgb = new Uint8Array(cw * ch * 3);
      for (let y = 0; y < ch; y++) {
        const from = ((r * ch + y) * img.w + c * cw) * 3;
        rgb.set(img.rgb.subarray(from, from + cw * 3), y * cw * 3);
      }
      items.push({ key: `r${r}c${c}`, rel: `${path.basename(o.input)}#r${r}c${c}`, frame: r * SHEET_COLS + c, group: name, image: { w: cw, h: ch, rgb } });
    }
  }
  return { kind: 'sheet', groups, items };
}

function listInput(o) {
  const inp = o.input;
  if (o.sheet) {
    if (o.target) throw new BadInput('--target', 'is for plain inputs; a contact sheet has its own emotions');
    return listSheet(o);
  }
  let st;
  try { st = fs.statSync(inp); } catch (e) { throw new BadInput(inp, `does not exist or cannot be read (${e.code || e.message})`); }
  if (st.isDirectory()) {
    if (fs.existsSync(path.join(inp, 'dataset.json'))) {
      if (o.target) throw new BadInput('--target', 'is for plain inputs; a dataset has its own emotions');
      return listDataset(inp, o);
    }
    return listFolder(inp, o);
  }
  if (VIDEO_EXT.has(path.extname(inp).toLowerCase())) return listVideo(inp, o);
  const g = plainGroup(o, 1);
  return { kind: 'image', groups: [g], items: [{ key: path.basename(inp), file: inp, rel: path.basename(inp), frame: 0, group: g.name }] };
}

// ------------------------------------------------------------------------------------ geometry

// Mouth-corner asymmetry |y(48) - y(54)| / IOD, IOD = |p36 - p45|, from any 68-point set (0-based iBUG
// order). Also a roll-free variant measured across the eye line instead of along image y.
export function mouthAsymmetry(pts) {
  if (!Array.isArray(pts) || pts.length < 68) return null;
  const [x36, y36] = pts[36], [x45, y45] = pts[45], [x48, y48] = pts[48], [x54, y54] = pts[54];
  const iod = Math.hypot(x45 - x36, y45 - y36);
  if (!(iod > 1e-6)) return null;
  const ux = (x45 - x36) / iod, uy = (y45 - y36) / iod;
  const dx = x54 - x48, dy = y54 - y48;
  return { asym: Math.abs(dy) / iod, asym_rollfree: Math.abs(-uy * dx + ux * dy) / iod };
}

function loadPoints68(file) {
  let j;
  try { j = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { throw new BadInput(file, `cannot read JSON (${e.message})`); }
  if (j && typeof j === 'object' && j.frames && typeof j.frames === 'object' && !Array.isArray(j.frames)) j = j.frames;
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw new BadInput(file, 'expected an object {"<frame key>": [[x, y], ... 68]}');
  const map = new Map();
  for (const [k, v] of Object.entries(j)) {
    if (!Array.isArray(v) || v.length !== 68 || !v.every((p) => Array.isArray(p) && p.length >= 2 && p.slice(0, 2).every(Number.isFinite))) {
      throw new BadInput(file, `points of '${k}' are not 68 [x, y] pairs`);
    }
    map.set(k, v.map((p) => [p[0], p[1]]));
  }
  return map;
}

// ------------------------------------------------------------------------------------ face-api

async function loadFaceApi(o) {
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
  const pkg = require('@vladmandic/face-api/package.json');
  if (pkg.version !== FACEAPI_VERSION) throw new BadInput('node_modules/@vladmandic/face-api', `version ${pkg.version}, expected ${FACEAPI_VERSION} (run npm ci)`);
  const wasm = require('@tensorflow/tfjs-backend-wasm');
  const wasmDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
  wasm.setWasmPaths(wasmDir);
  const tf = faceapi.tf;
  if (!(await tf.setBackend('wasm'))) throw new BadInput(wasmDir, 'the tfjs wasm backend did not start');
  await tf.ready();
  const modelDir = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  const nets = [o.detector === 'ssd' ? faceapi.nets.ssdMobilenetv1 : faceapi.nets.tinyFaceDetector,
    faceapi.nets.faceLandmark68Net, faceapi.nets.faceExpressionNet];
  if (o.descriptor) nets.push(faceapi.nets.faceRecognitionNet);
  for (const n of nets) await n.loadFromDisk(modelDir);
  const detOpts = o.detector === 'ssd'
    ? new faceapi.SsdMobilenetv1Options({ minConfidence: o.minScore, maxResults: 10 })
    : new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: o.minScore });
  return { faceapi, tf, detOpts, backend: tf.getBackend(), simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT') };
}

const r6 = (v) => Math.round(v * 1e6) / 1e6;
const r2 = (v) => Math.round(v * 100) / 100;

async function analyse(api, img, o) {
  const { faceapi, tf, detOpts } = api;
  const input = tf.tensor3d(img.rgb, [img.h, img.w, 3], 'int32');
  try {
    let task = faceapi.detectAllFaces(input, detOpts).withFaceLandmarks().withFaceExpressions();
    if (o.descriptor) task = task.withFaceDescriptors();
    const res = await task;
    if (!res.length) return { detected: false };
    const area = (r) => r.detection.box.width * r.detection.box.height;
    let best = res[0];
    for (const r of res) if (area(r) > area(best)) best = r;
    const b = best.detection.box;
    const out = {
      detected: true,
      faces: res.length,
      score: r6(best.detection.score),
      box: { x: r2(b.x), y: r2(b.y), w: r2(b.width), h: r2(b.height) },
      landmarks68: best.landmarks.positions.map((p) => [r2(p.x), r2(p.y)]),
      expressions: Object.fromEntries(FACEAPI_CLASSES.map((c) => [c, r6(best.expressions[c] ?? 0)])),
    };
    if (o.descriptor) out.descriptor = Array.from(best.descriptor, r6);
    return out;
  } finally {
    input.dispose();
  }
}

// ------------------------------------------------------------------------------------ summary

function topClass(probs, target) {
  // Neutral is left out of the argmax unless the target is neutral (or there is no target).
  const allowNeutral = target === 'neutral' || target === null;
  let best = null;
  for (const c of FACEAPI_CLASSES) {
    if (c === 'neutral' && !allowNeutral) continue;
    if (best === null || probs[c] > probs[best]) best = c;
  }
  return FROM_FACEAPI[best];
}

function summarise(src, frames, o) {
  const mean = (a) => (a.length ? a.reduce((s, v) => s + v, 0) / a.length : null);
  const groups = src.groups.map((g) => {
    const fr = frames.filter((f) => f.group === g.name);
    const det = fr.filter((f) => f.detected);
    const probs = det.length ? Object.fromEntries(FACEAPI_CLASSES.map((c) => [c, r6(mean(det.map((f) => f.expressions[c])))])) : null;
    const target = g.emotion ?? null;
    const cls = target ? TO_FACEAPI[target] : null;
    const top = probs ? topClass(probs, target) : null;
    const asym = fr.filter((f) => f.mouth_asym);
    const row = {
      group: g.name, emotion: target, level: g.level, clips: g.clips, frames_available: g.available,
      frames_used: fr.length, detected: det.length, detection_rate: fr.length ? r6(det.length / fr.length) : null,
      mean_probs: probs, top_class: top,
      p_target: probs && cls ? probs[cls] : null,
      // A group whose frames show no face at all counts as wrong: its emotion is not visible.
      correct: cls && fr.length ? (probs ? top === target : false) : null,
      mouth_asym: asym.length ? r6(mean(asym.map((f) => f.mouth_asym.asym))) : null,
      mouth_asym_rollfree: asym.length ? r6(mean(asym.map((f) => f.mouth_asym.asym_rollfree))) : null,
      mouth_asym_frames: asym.length,
      mouth_asym_from_points68: asym.filter((f) => f.mouth_asym.source === 'points68').length,
    };
    return row;
  });
  const find = (e, lvl) => groups.find((g) => g.emotion === e && (e === 'neutral' ? true : g.level === lvl));
  // Accuracy over the 7 emotions face-api knows, at intensity 1 (neutral: its own group).
  const accRows = ACCURACY_SET.map((e) => find(e, '1')).filter((g) => g && g.correct !== null);
  const accuracy = accRows.length ? {
    value: r6(accRows.filter((g) => g.correct).length / accRows.length),
    right: accRows.filter((g) => g.correct).map((g) => g.emotion),
    wrong: accRows.filter((g) => !g.correct).map((g) => `${g.emotion}->${g.top_class ?? 'no face'}`),
    over: accRows.map((g) => g.emotion),
  } : null;
  // Monotone: does P(target) (contempt: mouth asymmetry) rise 1/3 -> 2/3 -> 1?
  const monotone = {};
  for (const e of EMOTIONS) {
    if (e === 'neutral') continue;
    const key = e === 'contempt' ? 'mouth_asym' : 'p_target';
    const seq = LEVEL_NAMES.map((l) => find(e, l)).filter((g) => g && g[key] !== null);
    if (seq.length < 2) continue;
    let rises = true;
    for (let i = 1; i < seq.length; i++) if (!(seq[i][key] > seq[i - 1][key])) rises = false;
    monotone[e] = { by: key, levels: seq.map((g) => g.level), values: seq.map((g) => g[key]), rises };
  }
  const c1 = find('contempt', '1'), n0 = find('neutral');
  const ratio = (a, b) => (a !== null && b !== null && b > 0 ? r6(a / b) : null);
  const contempt = c1 || n0 ? {
    asym_contempt_at_1: c1 ? c1.mouth_asym : null, asym_neutral: n0 ? n0.mouth_asym : null,
    ratio: c1 && n0 ? ratio(c1.mouth_asym, n0.mouth_asym) : null,
    ratio_rollfree: c1 && n0 ? ratio(c1.mouth_asym_rollfree, n0.mouth_asym_rollfree) : null,
  } : null;
  const nFr = frames.length, nDet = frames.filter((f) => f.detected).length;
  return {
    judge: 'emogene tools/judge (test only, never a training loss)',
    definition: 'Visible emotion: face-api\'s 7-class expression net on rendered frames; per emotion the mean probabilities and the top class (neutral excluded from the argmax unless the target is neutral); accuracy over neutral, happy, sad, angry, fear, disgusted, surprised; contempt (no face-api class) by mouth-corner asymmetry |y48-y54|/IOD(36,45).',
    face_api: FACEAPI_VERSION, backend: 'tfjs wasm', detector: o.detector, min_score: o.minScore,
    input: { kind: src.kind, path: o.input, target: o.target, stride: o.stride, frames_per_group: o.perGroup, max_frames: o.maxFrames || null, points68: o.points68 },
    frames: nFr, detected: nDet, detection_rate: nFr ? r6(nDet / nFr) : null,
    groups, accuracy, monotone, contempt,
  };
}

function table(sum) {
  const pad = (s, n) => String(s).padEnd(n);
  const f3 = (v) => (v === null || v === undefined ? '-' : v.toFixed(3));
  const lines = [];
  lines.push(`${pad('emotion', 10)} ${pad('level', 5)} ${pad('n', 4)} ${pad('det', 5)} ${pad('top', 10)} ${pad('P(target)', 9)} ${pad('asym', 6)} result`);
  for (const g of sum.groups) {
    const res = g.correct === null ? (g.emotion === 'contempt' ? 'by asym' : '-') : (g.correct ? 'right' : g.detected ? 'WRONG' : 'WRONG (no face)');
    lines.push(`${pad(g.emotion ?? '(none)', 10)} ${pad(g.level ?? '-', 5)} ${pad(g.frames_used, 4)} ${pad(f3(g.detection_rate), 5)} ${pad(g.top_class ?? '-', 10)} ${pad(f3(g.p_target), 9)} ${pad(f3(g.mouth_asym), 6)} ${res}`);
  }
  if (sum.groups.length === 1 && sum.groups[0].mean_probs) {
    const p = sum.groups[0].mean_probs;
    lines.push('probs: ' + FACEAPI_CLASSES.map((c) => `${c} ${p[c].toFixed(3)}`).join('  '));
  }
  if (sum.accuracy) lines.push(`accuracy@1: ${sum.accuracy.value.toFixed(3)} over ${sum.accuracy.over.length} (${sum.accuracy.wrong.length ? 'wrong: ' + sum.accuracy.wrong.join(' ') : 'all right'})`);
  const mono = Object.entries(sum.monotone);
  if (mono.length) lines.push('monotone: ' + mono.map(([e, m]) => `${e} ${m.rises ? 'yes' : 'NO'}`).join('  '));
  if (sum.contempt && sum.contempt.ratio !== null) lines.push(`contempt asym ratio (contempt@1 / neutral): ${sum.contempt.ratio.toFixed(3)} (roll-free ${f3(sum.contempt.ratio_rollfree)})`);
  lines.push(`frames ${sum.frames}, detected ${sum.detected}`);
  return lines.join('\n') + '\n';
}

// ------------------------------------------------------------------------------------ main

function progress(o) {
  const t0 = Date.now();
  let lastPrint = 0, tFirst = 0;
  return (done, total, final = false) => {
    if (o.quiet) return;
    const now = Date.now();
    if (!final && now - lastPrint < 2000 && done !== 1) return;
    lastPrint = now;
    const s = (now - t0) / 1000;
    const rate = done / Math.max(s, 1e-3);
    const eta = rate > 0 ? (total - done) / rate : 0;
    if (done === 1 && !final) tFirst = now;
    const steady = done > 1 && tFirst ? ` (after the first: ${((now - tFirst) / (done - 1)).toFixed(0)} ms/frame)` : '';
    const msg = final
      ? `judge: ${done} frames in ${s.toFixed(1)} s, ${((s * 1000) / Math.max(done, 1)).toFixed(0)} ms/frame${steady}`
      : `judge: ${done}/${total} frames, ${rate.toFixed(2)} frames/s, ETA ${eta.toFixed(0)} s`;
    process.stderr.write(msg + '\n');
  };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  CURRENT = o.input;
  const points = o.points68 ? loadPoints68(o.points68) : null;
  const src = listInput(o);
  if (o.maxFrames && src.items.length > o.maxFrames) src.items = src.items.slice(0, o.maxFrames);
  if (o.out) {
    try { fs.mkdirSync(o.out, { recursive: true }); } catch (e) { throw new BadInput(o.out, `cannot create the output folder (${e.code || e.message})`); }
  }
  const tLoad = Date.now();
  const api = await loadFaceApi(o);
  if (!o.quiet) process.stderr.write(`judge: face-api ${FACEAPI_VERSION} on tfjs ${api.backend}${api.simd ? ' (simd)' : ''}, ${o.detector} detector, models loaded in ${Date.now() - tLoad} ms; ${src.items.length} frames in ${src.groups.length} group(s)\n`);
  const prog = progress(o);
  const frames = [];
  const total = src.items.length;
  const handle = async (it, img) => {
    CURRENT = it.file ?? `${o.input} frame ${it.frame}`;
    const r = await analyse(api, img, o);
    const f = { index: frames.length, key: it.key };
    if (it.rel) f.file = it.rel;
    if (it.clip) { f.clip = it.clip; }
    f.frame = it.frame;
    f.group = it.group;
    if (it.intensity !== undefined) { f.intensity = r6(it.intensity); f.emotion_weights = it.weights.map(r6); }
    f.width = img.w; f.height = img.h;
    Object.assign(f, r);
    const pts = points && points.has(it.key) ? points.get(it.key) : (r.detected ? r.landmarks68 : null);
    const a = pts ? mouthAsymmetry(pts) : null;
    f.mouth_asym = a ? { asym: r6(a.asym), asym_rollfree: r6(a.asym_rollfree), source: points && points.has(it.key) ? 'points68' : 'face-api' } : null;
    if (!o.landmarks) delete f.landmarks68;
    frames.push(f);
    prog(frames.length, total);
  };
  if (src.kind === 'video') {
    const byFrame = new Map(src.items.map((it) => [it.frame, it]));
    for await (const fr of videoFrames(src.video, src.items.map((it) => it.frame))) await handle(byFrame.get(fr.index), fr);
  } else {
    for (const it of src.items) { CURRENT = it.file ?? it.rel; await handle(it, it.image ?? readImage(it.file)); }
  }
  prog(frames.length, total, true);
  const sum = summarise(src, frames, o);
  if (o.out) {
    fs.writeFileSync(path.join(o.out, 'frames.json'), JSON.stringify({ face_api: FACEAPI_VERSION, detector: o.detector, emotions_faceapi: FACEAPI_CLASSES, frames }) + '\n');
    fs.writeFileSync(path.join(o.out, 'summary.json'), JSON.stringify(sum, null, 1) + '\n');
  }
  process.stdout.write(table(sum));
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) main().catch((e) => {
  if (e instanceof BadInput) process.stderr.write(`judge: error: ${e.file}: ${e.problem}\n`);
  else process.stderr.write(`judge: error: ${CURRENT}: ${e && e.message ? e.message.split('\n')[0] : e}\n`);
  process.exit(2);
});
