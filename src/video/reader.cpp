// VideoReader: decodes the best video stream of any file FFmpeg reads, one frame at a time, and
// converts it to RGB24 at the requested size (swscale) and rate (frames repeated or dropped by
// presentation time).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "emogene/audio/ffmpeg.h"
#include "emogene/core/error.h"
#include "emogene/video/video.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

namespace emogene::video {

namespace {

// swscale's coefficient set for a stream's colour matrix; untagged streams are taken as BT.601,
// which is what emogene writes and what SD material mostly is.
int sws_colorspace(AVColorSpace cs) {
  switch (cs) {
    case AVCOL_SPC_BT709: return SWS_CS_ITU709;
    case AVCOL_SPC_FCC: return SWS_CS_FCC;
    case AVCOL_SPC_SMPTE240M: return SWS_CS_SMPTE240M;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL: return SWS_CS_BT2020;
    default: return SWS_CS_ITU601;
  }
}

// The deprecated "J" formats mean full range whatever the range tag says.
bool full_range(const AVFrame* f) {
  switch (f->format) {
    case AV_PIX_FMT_YUVJ420P:
    case AV_PIX_FMT_YUVJ422P:
    case AV_PIX_FMT_YUVJ444P:
    case AV_PIX_FMT_YUVJ440P:
    case AV_PIX_FMT_YUVJ411P: return true;
    default: return f->color_range == AVCOL_RANGE_JPEG;
  }
}

int round_even(double v) { return std::max(2, 2 * static_cast<int>(std::lround(v / 2))); }

}  // namespace

struct VideoReader::Impl {
  std::string path;
  ReaderOptions opt;
  ff::InputPtr fmt;
  ff::CodecPtr dec;
  int stream = -1;
  AVRational tb{1, 1};
  std::int64_t start = 0;     // the stream's first timestamp: times are relative to it
  double nominal = 0;         // 1 / the stream's frame rate, 0 when unknown
  int out_w = 0, out_h = 0;
  double out_fps = 0;
  ff::PacketPtr pkt = ff::make_packet();
  bool sent_flush = false;

  // RGB conversion, rebuilt when the decoded format changes.
  ff::SwsPtr sws;
  int sws_w = -1, sws_h = -1, sws_fmt = -1, sws_cs = -1;
  bool sws_full = false;
  ff::FramePtr rgb;  // aligned scratch at the output size

  // A decoded frame with its presentation time and duration (seconds).
  struct Slot {
    ff::FramePtr frame = ff::make_frame();
    double time = 0, duration = 0;
    bool valid = false;
  };
  Slot next;  // the lookahead: decoded, not yet shown
  Slot cur;   // with a requested fps: the frame on screen
  std::vector<std::uint8_t> cur_rgb;
  bool cur_converted = false;
  double last_time = -1;
  std::int64_t out_index = 0;

  bool decode(Slot& s);
  void convert(const AVFrame* f, std::vector<std::uint8_t>& dst);
  void promote() {
    av_frame_unref(cur.frame.get());
    av_frame_move_ref(cur.frame.get(), next.frame.get());
    cur.time = next.time;
    cur.duration = next.duration;
    cur.valid = true;
    cur_converted = false;
    next.valid = decode(next);
  }
};

// Decodes the next frame of the stream into s; false at the end.
bool VideoReader::Impl::decode(Slot& s) {
  AVFrame* f = s.frame.get();
  av_frame_unref(f);
  for (;;) {
    int ret = avcodec_receive_frame(dec.get(), f);
    if (ret >= 0) break;
    if (ret == AVERROR_EOF) return false;
    if (ret != AVERROR(EAGAIN)) ff::check(ret, path, "cannot decode the video");
    if (sent_flush) return false;
    ret = av_read_frame(fmt.get(), pkt.get());
    if (ret < 0) {
      // End of file, or a read error in a damaged file: decode what we have, like players do.
      sent_flush = true;
      ff::check(avcodec_send_packet(dec.get(), nullptr), path, "cannot decode the video");
      continue;
    }
    if (pkt->stream_index == stream) {
      ret = avcodec_send_packet(dec.get(), pkt.get());
      // A corrupt packet is skipped; the decoder resynchronises on the next keyframe.
      if (ret < 0 && ret != AVERROR_INVALIDDATA) ff::check(ret, path, "cannot decode the video");
    }
    av_packet_unref(pkt.get());
  }

  std::int64_t ts = f->best_effort_timestamp;
  if (ts == AV_NOPTS_VALUE)
    s.time = last_time < 0 ? 0 : last_time + nominal;
  else
    s.time = static_cast<double>(ts - start) * av_q2d(tb);
  last_time = s.time;
  // The nominal frame duration where the stream has one (packet durations are not reliably carried
  // through B-frame reordering), else the packet's.
  s.duration = nominal > 0 ? nominal : static_cast<double>(f->pkt_duration) * av_q2d(tb);
  return true;
}

void VideoReader::Impl::convert(const AVFrame* f, std::vector<std::uint8_t>& dst) {
  int cs = sws_colorspace(f->colorspace);
  bool full = full_range(f);
  if (!sws || f->width != sws_w || f->height != sws_h || f->format != sws_fmt || cs != sws_cs ||
      full != sws_full) {
    sws.reset(sws_getContext(f->width, f->height, static_cast<AVPixelFormat>(f->format), out_w,
                             out_h, AV_PIX_FMT_RGB24,
                             SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, nullptr, nullptr,
                             nullptr));
    if (!sws)
      throw bad_input(path, std::string("cannot convert pixel format ") +
                                (av_get_pix_fmt_name(static_cast<AVPixelFormat>(f->format))
                                     ? av_get_pix_fmt_name(static_cast<AVPixelFormat>(f->format))
                                     : "unknown") +
                                " to RGB");
    // YUV sources: the stream's matrix and range (BT.601 limited unless tagged otherwise) into
    // full-range RGB. For RGB or grey sources swscale ignores the matrix.
    const int* coeffs = sws_getCoefficients(cs);
    sws_setColorspaceDetails(sws.get(), coeffs, full ? 1 : 0, sws_getCoefficients(SWS_CS_ITU601),
                             1, 0, 1 << 16, 1 << 16);
    sws_w = f->width;
    sws_h = f->height;
    sws_fmt = f->format;
    sws_cs = cs;
    sws_full = full;
  }
  ff::check(av_frame_make_writable(rgb.get()), path, "out of memory for a frame", false);
  sws_scale(sws.get(), f->data, f->linesize, 0, f->height, rgb->data, rgb->linesize);
  dst.resize(static_cast<std::size_t>(out_w) * out_h * 3);
  av_image_copy_plane(dst.data(), out_w * 3, rgb->data[0], rgb->linesize[0], out_w * 3, out_h);
}

VideoReader::VideoReader(const std::string& path, const ReaderOptions& opt)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.path = path;
  m.opt = opt;
  if (!(opt.fps >= 0) || !std::isfinite(opt.fps))
    throw bad_input(path, "requested frame rate " + std::to_string(opt.fps) + " must be >= 0");
  if (opt.width < 0 || opt.height < 0)
    throw bad_input(path, "requested size " + std::to_string(opt.width) + "x" +
                              std::to_string(opt.height) + " must not be negative");

  m.fmt = ff::open_input(path);
  int idx = av_find_best_stream(m.fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  // Cover art in an audio file is a "video" stream of one picture; it is not a video.
  if (idx < 0 || (m.fmt->streams[idx]->disposition & AV_DISPOSITION_ATTACHED_PIC))
    throw bad_input(path, "has no video stream");
  m.stream = idx;
  for (unsigned i = 0; i < m.fmt->nb_streams; ++i)
    if (static_cast<int>(i) != idx) m.fmt->streams[i]->discard = AVDISCARD_ALL;
  AVStream* st = m.fmt->streams[idx];
  m.tb = st->time_base;
  m.start = st->start_time == AV_NOPTS_VALUE ? 0 : st->start_time;
  AVRational rate = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
  m.nominal = rate.num > 0 && rate.den > 0 ? av_q2d(av_inv_q(rate)) : 0;
  m.dec = ff::open_decoder(m.fmt.get(), idx, path, 1);

  // Decode the first frame now, so an undecodable file fails here and its real size is known.
  m.next.valid = m.decode(m.next);
  if (!m.next.valid) throw bad_input(path, "has no decodable video frames");
  const int src_w = m.next.frame->width, src_h = m.next.frame->height;
  if (src_w <= 0 || src_h <= 0) throw bad_input(path, "video frames have no size");
  if (opt.width > 0 && opt.height > 0) {
    m.out_w = opt.width;
    m.out_h = opt.height;
  } else if (opt.width > 0) {  // one side given: keep the aspect ratio, even size
    m.out_w = opt.width;
    m.out_h = round_even(static_cast<double>(opt.width) * src_h / src_w);
  } else if (opt.height > 0) {
    m.out_h = opt.height;
    m.out_w = round_even(static_cast<double>(opt.height) * src_w / src_h);
  } else {
    m.out_w = src_w;
    m.out_h = src_h;
  }
  m.out_fps = opt.fps > 0 ? opt.fps : (m.nominal > 0 ? 1.0 / m.nominal : 0);

  m.rgb = ff::make_frame();
  m.rgb->format = AV_PIX_FMT_RGB24;
  m.rgb->width = m.out_w;
  m.rgb->height = m.out_h;
  ff::check(av_frame_get_buffer(m.rgb.get(), 0), path, "out of memory for a frame", false);
}

VideoReader::~VideoReader() = default;

int VideoReader::width() const { return impl_->out_w; }
int VideoReader::height() const { return impl_->out_h; }
double VideoReader::fps() const { return impl_->out_fps; }

bool VideoReader::read(Frame& out) {
  Impl& m = *impl_;
  out.width = m.out_w;
  out.height = m.out_h;

  if (m.opt.fps <= 0) {  // every decoded frame at its own time
    if (!m.next.valid) return false;
    m.convert(m.next.frame.get(), out.rgb);
    out.time = m.next.time;
    m.next.valid = m.decode(m.next);
    return true;
  }

  // Output frame i shows what is on screen at t = i/fps: the latest frame with time <= t. The
  // epsilon absorbs timestamps rounded to a coarse time base (e.g. milliseconds in Matroska).
  const double t = static_cast<double>(m.out_index) / m.opt.fps;
  const double eps = std::min(1e-3, 0.1 / m.opt.fps);
  if (!m.cur.valid) {
    if (!m.next.valid) return false;
    m.promote();  // the first frame is shown from time 0 even if it is stamped later
  }
  while (m.next.valid && m.next.time <= t + eps) m.promote();
  if (!m.next.valid) {
    // Past the last frame's display interval: the clip has ended (d seconds → ceil(d * fps)).
    double dur = m.cur.duration > 0 ? m.cur.duration : 1.0 / m.opt.fps;
    if (t >= m.cur.time + dur - eps) return false;
  }
  if (!m.cur_converted) {
    m.convert(m.cur.frame.get(), m.cur_rgb);
    m.cur_converted = true;
  }
  out.rgb = m.cur_rgb;
  out.time = t;
  ++m.out_index;
  return true;
}

}  // namespace emogene::video
