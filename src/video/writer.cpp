// VideoWriter: RGB frames + the original audio → MP4 (H.264 via libx264, AAC via FFmpeg's native
// encoder). Frames are encoded as they arrive and the audio is encoded alongside them up to the
// current video time, so memory does not grow with the clip. The file is written under a temporary
// name (AtomicOutput) and renamed into place by finish().
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "emogene/audio/audio.h"
#include "emogene/audio/ffmpeg.h"
#include "emogene/core/error.h"
#include "emogene/core/fileio.h"
#include "emogene/video/video.h"

extern "C" {
#include <libavutil/audio_fifo.h>
#include <libavutil/imgutils.h>
}

namespace emogene::video {

namespace {

// Rates the AAC bitstream can signal; anything else is resampled to kFallbackRate.
constexpr int kAacRates[] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                             22050, 16000, 12000, 11025, 8000,  7350};
constexpr int kFallbackRate = 48000;

// Input frames handed to libswresample at a time (bounds the scratch buffers).
constexpr int kAudioChunk = 4096;

bool aac_allows(int rate) {
  for (int r : kAacRates)
    if (r == rate) return true;
  return false;
}

struct FifoCloser { void operator()(AVAudioFifo* p) const { av_audio_fifo_free(p); } };
using FifoPtr = std::unique_ptr<AVAudioFifo, FifoCloser>;

// Owns an AVChannelLayout (it may hold an allocated custom map).
struct Layout {
  AVChannelLayout l{};
  Layout() = default;
  Layout(const Layout&) = delete;
  Layout& operator=(const Layout&) = delete;
  ~Layout() { av_channel_layout_uninit(&l); }
};

}  // namespace

struct VideoWriter::Impl {
  // Declared first so it is destroyed last: the muxer closes the temporary file before the
  // AtomicOutput removes it (when finish() was never reached).
  AtomicOutput out;
  std::string path;
  WriterOptions opt;
  const audio::Waveform* wave = nullptr;

  ff::OutputPtr fmt;
  ff::PacketPtr pkt = ff::make_packet();

  // Video.
  ff::CodecPtr venc;
  AVStream* vst = nullptr;
  ff::SwsPtr sws;
  ff::FramePtr rgb;   // aligned copy of the caller's frame
  ff::FramePtr yuv;
  std::int64_t frames = 0;

  // Audio (absent when wave is null or empty).
  ff::CodecPtr aenc;
  AVStream* ast = nullptr;
  ff::SwrPtr swr;
  FifoPtr fifo;
  int in_channels = 0;          // channels handed to swr (after a manual downmix, if any)
  bool manual_downmix = false;  // >2 channels without a standard layout: averaged by us
  std::int64_t in_pos = 0;      // input frames consumed from the waveform
  std::int64_t out_total = 0;   // output samples the whole waveform maps to
  std::int64_t out_made = 0;    // output samples produced by swr so far (capped at out_total)
  std::int64_t out_sent = 0;    // output samples handed to the encoder (= next frame's pts)
  std::vector<float> scratch;   // manual downmix buffer
  std::vector<std::vector<float>> conv;  // swr output, one plane per channel

  // Open until finish() succeeds (Finished); an error inside write() or finish() leaves the
  // encoders in an unknown state (Failed): later calls throw, and the destructor cleans up.
  enum class State { Open, Finished, Failed } state = State::Open;

  Impl(const std::string& p, const WriterOptions& o, const audio::Waveform* a)
      : out(p), path(p), opt(o), wave(a && !a->samples.empty() ? a : nullptr) {}

  void open_video();
  void open_audio();
  void send_video(const AVFrame* f);
  void send_audio(const AVFrame* f);
  void drain(AVCodecContext* enc, AVStream* st, bool is_video);
  void feed_audio(std::int64_t until_frame, bool flush);
  void encode_audio(bool last);
};

void VideoWriter::Impl::open_video() {
  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  if (!codec) throw internal_error(path, "FFmpeg was built without libx264");
  venc.reset(avcodec_alloc_context3(codec));
  if (!venc) throw internal_error(path, "out of memory allocating the H.264 encoder");

  // Frame i has pts i in a time base of 1/fps; av_d2q keeps fractional rates (29.97 → 2997/100)
  // exact enough that frame i lands on i/fps.
  AVRational rate = av_d2q(opt.fps, 1 << 20);
  venc->width = opt.width;
  venc->height = opt.height;
  venc->pix_fmt = AV_PIX_FMT_YUV420P;
  venc->time_base = av_inv_q(rate);
  venc->framerate = rate;
  venc->sample_aspect_ratio = AVRational{1, 1};
  venc->colorspace = AVCOL_SPC_SMPTE170M;
  venc->color_range = AVCOL_RANGE_MPEG;
  venc->color_primaries = AVCOL_PRI_SMPTE170M;
  venc->color_trc = AVCOL_TRC_SMPTE170M;
  // A fixed thread count: x264's output depends on it, never on the machine (DESIGN §4).
  venc->thread_count = opt.encoder_threads;
  if (fmt->oformat->flags & AVFMT_GLOBALHEADER) venc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;

  AVDictionary* dict = nullptr;
  std::string threads = std::to_string(opt.encoder_threads);
  av_dict_set(&dict, "threads", threads.c_str(), 0);
  // mbtree off: x264 r3095's macroblock-tree pass reads memory it never wrote, so with it the
  // bytes depend on what the heap held before (seen with MALLOC_PERTURB_ and with a second writer
  // in one process), which breaks "same inputs, same bytes".
  av_dict_set(&dict, "x264-params", ("threads=" + threads + ":mbtree=0").c_str(), 0);
  av_dict_set(&dict, "preset", opt.preset.c_str(), 0);
  av_dict_set(&dict, "crf", std::to_string(opt.crf).c_str(), 0);
  int ret = avcodec_open2(venc.get(), codec, &dict);
  av_dict_free(&dict);
  ff::check(ret, path, "cannot open the H.264 encoder (preset \"" + opt.preset + "\", crf " +
                           std::to_string(opt.crf) + ")");

  vst = avformat_new_stream(fmt.get(), nullptr);
  if (!vst) throw internal_error(path, "out of memory adding the video stream");
  vst->time_base = venc->time_base;  // a hint; the mp4 muxer picks its own in write_header
  vst->avg_frame_rate = rate;
  ff::check(avcodec_parameters_from_context(vst->codecpar, venc.get()), path,
            "cannot set the video stream parameters", false);

  sws.reset(sws_getContext(opt.width, opt.height, AV_PIX_FMT_RGB24, opt.width, opt.height,
                           AV_PIX_FMT_YUV420P,
                           SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP | SWS_BITEXACT,
                           nullptr, nullptr, nullptr));
  if (!sws) throw internal_error(path, "cannot create the RGB to YUV converter");
  // sRGB in full range → BT.601 limited-range YUV, as the stream is tagged.
  const int* bt601 = sws_getCoefficients(SWS_CS_ITU601);
  sws_setColorspaceDetails(sws.get(), bt601, 1, bt601, 0, 0, 1 << 16, 1 << 16);

  rgb = ff::make_frame();
  rgb->format = AV_PIX_FMT_RGB24;
  rgb->width = opt.width;
  rgb->height = opt.height;
  ff::check(av_frame_get_buffer(rgb.get(), 0), path, "out of memory for a frame", false);
  yuv = ff::make_frame();
  yuv->format = AV_PIX_FMT_YUV420P;
  yuv->width = opt.width;
  yuv->height = opt.height;
  ff::check(av_frame_get_buffer(yuv.get(), 0), path, "out of memory for a frame", false);
  // Row padding is read by SIMD copies downstream; keep it defined so it cannot leak into bytes.
  for (AVFrame* f : {rgb.get(), yuv.get()})
    for (int i = 0; i < AV_NUM_DATA_POINTERS && f->buf[i]; ++i)
      std::memset(f->buf[i]->data, 0, f->buf[i]->size);
}

void VideoWriter::Impl::open_audio() {
  if (wave->sample_rate <= 0 || wave->channels <= 0)
    throw bad_input(path, "audio has sample rate " + std::to_string(wave->sample_rate) + " and " +
                              std::to_string(wave->channels) + " channels");
  const AVCodec* codec = avcodec_find_encoder_by_name("aac");
  if (!codec) throw internal_error(path, "FFmpeg was built without the AAC encoder");
  aenc.reset(avcodec_alloc_context3(codec));
  if (!aenc) throw internal_error(path, "out of memory allocating the AAC encoder");

  const int in_rate = wave->sample_rate;
  const int out_rate = aac_allows(in_rate) ? in_rate : kFallbackRate;
  const int out_channels = wave->channels >= 2 ? 2 : 1;

  aenc->sample_fmt = AV_SAMPLE_FMT_FLTP;
  aenc->sample_rate = out_rate;
  av_channel_layout_default(&aenc->ch_layout, out_channels);
  // AAC carries at most 6144 bits per channel per 1024-sample frame; ask for no more.
  aenc->bit_rate = std::min<std::int64_t>(opt.audio_bitrate,
                                          std::int64_t{6144} * out_channels * out_rate / 1024);
  aenc->time_base = AVRational{1, out_rate};  // pts counts samples
  if (fmt->oformat->flags & AVFMT_GLOBALHEADER) aenc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  ff::check(avcodec_open2(aenc.get(), codec, nullptr), path, "cannot open the AAC encoder");

  ast = avformat_new_stream(fmt.get(), nullptr);
  if (!ast) throw internal_error(path, "out of memory adding the audio stream");
  ast->time_base = aenc->time_base;
  ff::check(avcodec_parameters_from_context(ast->codecpar, aenc.get()), path,
            "cannot set the audio stream parameters", false);

  // Input layout for swr. More than two channels: swr's standard downmix when FFmpeg knows a
  // default layout for that count, else a plain average of even/odd channels (done by us).
  Layout in_layout, out_layout;
  in_channels = wave->channels;
  av_channel_layout_default(&in_layout.l, in_channels);
  if (in_channels > 2 && in_layout.l.order != AV_CHANNEL_ORDER_NATIVE) {
    manual_downmix = true;
    in_channels = 2;
    av_channel_layout_uninit(&in_layout.l);
    av_channel_layout_default(&in_layout.l, 2);
  }
  av_channel_layout_copy(&out_layout.l, &aenc->ch_layout);

  SwrContext* raw = nullptr;
  ff::check(swr_alloc_set_opts2(&raw, &out_layout.l, AV_SAMPLE_FMT_FLTP, out_rate, &in_layout.l,
                                AV_SAMPLE_FMT_FLT, in_rate, 0, nullptr),
            path, "cannot set up the audio converter", false);
  swr.reset(raw);
  // Normalise a downmix matrix so that summed channels cannot exceed full scale.
  av_opt_set_double(swr.get(), "rematrix_maxval", 1.0, 0);
  ff::check(swr_init(swr.get()), path, "cannot set up the audio converter", false);

  fifo.reset(av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, out_channels, aenc->frame_size * 2));
  if (!fifo) throw internal_error(path, "out of memory for the audio queue");
  out_total = av_rescale_rnd(wave->frames(), out_rate, in_rate, AV_ROUND_NEAR_INF);
}

// Sends one frame (nullptr: flush) to the video encoder and writes what comes out.
void VideoWriter::Impl::send_video(const AVFrame* f) {
  ff::check(avcodec_send_frame(venc.get(), f), path, "H.264 encoding failed", false);
  drain(venc.get(), vst, true);
}

void VideoWriter::Impl::send_audio(const AVFrame* f) {
  ff::check(avcodec_send_frame(aenc.get(), f), path, "AAC encoding failed", false);
  drain(aenc.get(), ast, false);
}

void VideoWriter::Impl::drain(AVCodecContext* enc, AVStream* st, bool is_video) {
  for (;;) {
    int ret = avcodec_receive_packet(enc, pkt.get());
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return;
    ff::check(ret, path, is_video ? "H.264 encoding failed" : "AAC encoding failed", false);
    // Constant frame rate: every frame lasts one tick of 1/fps. Without this the last frame would
    // have no duration and the stream would end one frame early.
    if (is_video) pkt->duration = 1;
    // Encoder ticks → the stream's time base, which the mp4 muxer chose in write_header. AAC
    // packets start at pts -initial_padding (the encoder's 1024 priming samples); the muxer turns
    // that negative start into an edit list so decoders drop the priming and audio starts at 0.
    av_packet_rescale_ts(pkt.get(), enc->time_base, st->time_base);
    pkt->stream_index = st->index;
    ret = av_interleaved_write_frame(fmt.get(), pkt.get());  // takes the packet's reference
    ff::check(ret, path, "cannot write to the file", true);
  }
}

// Pushes the waveform's input frames [in_pos, until_frame) through swr into the FIFO. With flush,
// also drains what swr holds back for its filter. Output is capped at out_total, the real length.
void VideoWriter::Impl::feed_audio(std::int64_t until_frame, bool flush) {
  const int ch = wave->channels;
  const int out_channels = aenc->ch_layout.nb_channels;
  // Returns the number of samples swr produced (before capping).
  auto push = [&](const float* in, int n) -> int {
    int cap = swr_get_out_samples(swr.get(), n);
    if (cap <= 0) return 0;
    conv.resize(static_cast<std::size_t>(out_channels));
    std::vector<uint8_t*> planes(static_cast<std::size_t>(out_channels));
    for (int c = 0; c < out_channels; ++c) {
      conv[c].resize(static_cast<std::size_t>(cap));
      planes[c] = reinterpret_cast<uint8_t*>(conv[c].data());
    }
    const uint8_t* src[1] = {reinterpret_cast<const uint8_t*>(in)};
    int got = swr_convert(swr.get(), planes.data(), cap, in ? src : nullptr, n);
    ff::check(got, path, "audio conversion failed", false);
    std::int64_t keep = std::min<std::int64_t>(got, out_total - out_made);
    if (keep > 0) {
      ff::check(av_audio_fifo_write(fifo.get(), reinterpret_cast<void**>(planes.data()),
                                    static_cast<int>(keep)),
                path, "out of memory for the audio queue", false);
      out_made += keep;
    }
    return got;
  };

  until_frame = std::min(until_frame, wave->frames());
  while (in_pos < until_frame) {
    int n = static_cast<int>(std::min<std::int64_t>(kAudioChunk, until_frame - in_pos));
    const float* src = wave->samples.data() + in_pos * ch;
    if (manual_downmix) {
      // Even channels → left, odd channels → right, each averaged.
      scratch.assign(static_cast<std::size_t>(n) * 2, 0.0f);
      const float wl = 1.0f / static_cast<float>((ch + 1) / 2);
      const float wr = 1.0f / static_cast<float>(ch / 2);
      for (int i = 0; i < n; ++i)
        for (int c = 0; c < ch; ++c)
          scratch[static_cast<std::size_t>(i) * 2 + (c & 1)] +=
              src[static_cast<std::size_t>(i) * ch + c] * ((c & 1) ? wr : wl);
      src = scratch.data();
    }
    push(src, n);
    in_pos += n;
  }
  if (flush)
    while (out_made < out_total && push(nullptr, 0) > 0) {
    }
}

// Encodes whole frames from the FIFO; with last, also the final partial frame.
void VideoWriter::Impl::encode_audio(bool last) {
  const int fs = aenc->frame_size;
  for (;;) {
    int avail = av_audio_fifo_size(fifo.get());
    if (avail == 0 || (avail < fs && !last)) return;
    int n = std::min(avail, fs);
    ff::FramePtr f = ff::make_frame();
    f->format = AV_SAMPLE_FMT_FLTP;
    av_channel_layout_copy(&f->ch_layout, &aenc->ch_layout);
    f->sample_rate = aenc->sample_rate;
    // The final frame may be short: the encoder (AV_CODEC_CAP_SMALL_LAST_FRAME) pads it with
    // silence itself and gives its packet the real sample count as duration, so the track's
    // length is the audio's length rather than a whole number of AAC frames.
    f->nb_samples = n;
    ff::check(av_frame_get_buffer(f.get(), 0), path, "out of memory for audio", false);
    ff::check(av_audio_fifo_read(fifo.get(), reinterpret_cast<void**>(f->extended_data), n), path,
              "audio queue read failed", false);
    f->pts = out_sent;
    out_sent += n;
    send_audio(f.get());
  }
}

VideoWriter::VideoWriter(const std::string& path, const WriterOptions& opt,
                         const audio::Waveform* audio) {
  if (opt.width <= 0 || opt.height <= 0 || opt.width % 2 || opt.height % 2)
    throw bad_input(path, "video size " + std::to_string(opt.width) + "x" +
                              std::to_string(opt.height) + " must be positive and even");
  if (!(opt.fps > 0) || !std::isfinite(opt.fps) || opt.fps > 1000)
    throw bad_input(path, "frame rate " + std::to_string(opt.fps) + " must be in (0, 1000]");
  if (opt.encoder_threads < 1)
    throw bad_input(path, "encoder threads must be at least 1");
  if (audio && opt.audio_bitrate <= 0)
    throw bad_input(path,
                    "audio bitrate " + std::to_string(opt.audio_bitrate) + " must be positive");
  impl_ = std::make_unique<Impl>(path, opt, audio);  // AtomicOutput refuses a missing folder
  Impl& m = *impl_;

  AVFormatContext* raw = nullptr;
  ff::check(avformat_alloc_output_context2(&raw, nullptr, "mp4", m.out.temp_path().c_str()), path,
            "cannot create an MP4 muxer", false);
  m.fmt.reset(raw);
  m.open_video();
  if (m.wave) m.open_audio();

  int ret = avio_open(&m.fmt->pb, m.out.temp_path().c_str(), AVIO_FLAG_WRITE);
  if (ret < 0) throw bad_input(path, "cannot write: " + ff::error_text(ret));
  ff::check(avformat_write_header(m.fmt.get(), nullptr), path, "cannot write the MP4 header");
}

VideoWriter::~VideoWriter() = default;

std::int64_t VideoWriter::frames_written() const { return impl_->frames; }

void VideoWriter::write(const std::uint8_t* rgb) {
  Impl& m = *impl_;
  if (m.state != Impl::State::Open)
    throw internal_error(m.path, m.state == Impl::State::Finished ? "write() after finish()"
                                                                  : "write() after a failure");
  if (!rgb) throw internal_error(m.path, "write() given no pixels");
  m.state = Impl::State::Failed;  // until this frame is through

  const int w = m.opt.width, h = m.opt.height;
  ff::check(av_frame_make_writable(m.rgb.get()), m.path, "out of memory for a frame", false);
  av_image_copy_plane(m.rgb->data[0], m.rgb->linesize[0], rgb, w * 3, w * 3, h);
  // The encoder may still hold a reference to the previous YUV frame.
  ff::check(av_frame_make_writable(m.yuv.get()), m.path, "out of memory for a frame", false);
  sws_scale(m.sws.get(), m.rgb->data, m.rgb->linesize, 0, h, m.yuv->data, m.yuv->linesize);
  m.yuv->pts = m.frames;
  m.send_video(m.yuv.get());
  ++m.frames;

  // Audio up to the end of this frame's display, (i+1)/fps, in whole AAC frames.
  if (m.wave) {
    double t = static_cast<double>(m.frames) / m.opt.fps;
    auto until = static_cast<std::int64_t>(std::ceil(t * m.wave->sample_rate));
    m.feed_audio(until, false);
    m.encode_audio(false);
  }
  m.state = Impl::State::Open;
}

void VideoWriter::finish() {
  Impl& m = *impl_;
  if (m.state == Impl::State::Finished) return;
  if (m.state == Impl::State::Failed) throw internal_error(m.path, "finish() after a failure");
  if (m.frames == 0) throw internal_error(m.path, "finish() without any frame written");
  m.state = Impl::State::Failed;  // until the file is in place
  if (m.wave) {
    m.feed_audio(m.wave->frames(), true);
    m.encode_audio(true);
    m.send_audio(nullptr);
  }
  m.send_video(nullptr);
  ff::check(av_write_trailer(m.fmt.get()), m.path, "cannot finish the MP4");
  int ret = avio_closep(&m.fmt->pb);
  if (ret < 0) throw bad_input(m.path, "cannot write: " + ff::error_text(ret));
  m.out.commit();
  m.state = Impl::State::Finished;
}

}  // namespace emogene::video
