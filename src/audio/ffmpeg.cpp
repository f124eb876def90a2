#include "emogene/audio/ffmpeg.h"

#include <sys/stat.h>

#include "emogene/core/error.h"

namespace emogene::ff {

void OutputCloser::operator()(AVFormatContext* p) const {
  if (!p) return;
  if (p->pb && !(p->oformat->flags & AVFMT_NOFILE)) avio_closep(&p->pb);
  avformat_free_context(p);
}

FramePtr make_frame() {
  FramePtr f(av_frame_alloc());
  if (!f) throw internal_error("ffmpeg", "out of memory allocating a frame");
  return f;
}

PacketPtr make_packet() {
  PacketPtr p(av_packet_alloc());
  if (!p) throw internal_error("ffmpeg", "out of memory allocating a packet");
  return p;
}

std::string error_text(int errnum) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(errnum, buf, sizeof buf);
  return buf;
}

void check(int ret, const std::string& where, const std::string& what, bool is_bad_input) {
  if (ret >= 0) return;
  std::string msg = what + ": " + error_text(ret);
  throw is_bad_input ? bad_input(where, msg) : internal_error(where, msg);
}

InputPtr open_input(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw bad_input(path, "no such file");
  if (S_ISDIR(st.st_mode)) throw bad_input(path, "is a directory, expected a media file");
  if (st.st_size == 0) throw bad_input(path, "empty file");
  AVFormatContext* raw = nullptr;
  int ret = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (ret < 0) throw bad_input(path, "not a readable audio or video file (" + error_text(ret) + ")");
  InputPtr fmt(raw);
  ret = avformat_find_stream_info(fmt.get(), nullptr);
  if (ret < 0) throw bad_input(path, "cannot read stream info (" + error_text(ret) + ")");
  return fmt;
}

CodecPtr open_decoder(AVFormatContext* fmt, int index, const std::string& where, int threads) {
  AVStream* st = fmt->streams[index];
  const AVCodec* dec = avcodec_find_decoder(st->codecpar->codec_id);
  if (!dec)
    throw bad_input(where, std::string("no decoder for codec ") + avcodec_get_name(st->codecpar->codec_id));
  CodecPtr ctx(avcodec_alloc_context3(dec));
  if (!ctx) throw internal_error(where, "out of memory allocating a decoder");
  check(avcodec_parameters_to_context(ctx.get(), st->codecpar), where, "bad codec parameters");
  ctx->pkt_timebase = st->time_base;
  ctx->thread_count = threads;
  check(avcodec_open2(ctx.get(), dec, nullptr), where, std::string("cannot open ") + dec->name + " decoder");
  return ctx;
}

std::string version() { return av_version_info(); }

void set_log_level(bool verbose) { av_log_set_level(verbose ? AV_LOG_WARNING : AV_LOG_QUIET); }

}  // namespace emogene::ff
