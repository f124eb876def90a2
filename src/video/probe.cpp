// probe_media: container, duration and per-stream facts of a media file, ffprobe-style. Frame
// counts come from the container when it records them, else from one pass counting packets.
#include <algorithm>
#include <string>
#include <vector>

#include "emogene/audio/ffmpeg.h"
#include "emogene/core/error.h"
#include "emogene/video/video.h"

namespace emogene::video {

MediaInfo probe_media(const std::string& path) {
  ff::InputPtr fmt = ff::open_input(path);
  MediaInfo info;
  info.path = path;
  info.container = fmt->iformat->name;

  const unsigned n = fmt->nb_streams;
  bool need_scan = false;
  for (unsigned i = 0; i < n; ++i) {
    const AVStream* st = fmt->streams[i];
    const AVCodecParameters* par = st->codecpar;
    StreamInfo s;
    const char* type = av_get_media_type_string(par->codec_type);
    s.type = type ? type : "unknown";
    s.codec = avcodec_get_name(par->codec_id);
    if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
      s.width = par->width;
      s.height = par->height;
      AVRational r = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
      s.fps = r.num > 0 && r.den > 0 ? av_q2d(r) : 0;
    } else if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
      s.sample_rate = par->sample_rate;
      s.channels = par->ch_layout.nb_channels;
    }
    s.frames = st->nb_frames;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
      s.duration = static_cast<double>(st->duration) * av_q2d(st->time_base);
    if (s.frames <= 0 || s.duration <= 0) need_scan = true;
    info.streams.push_back(s);
  }

  if (need_scan) {
    // Count packets and find each stream's time span by demuxing the whole file (no decoding).
    std::vector<std::int64_t> count(n, 0), first(n, AV_NOPTS_VALUE), last(n, AV_NOPTS_VALUE);
    ff::PacketPtr pkt = ff::make_packet();
    while (av_read_frame(fmt.get(), pkt.get()) >= 0) {
      unsigned i = static_cast<unsigned>(pkt->stream_index);
      if (i < n) {
        ++count[i];
        std::int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
        if (ts != AV_NOPTS_VALUE) {
          std::int64_t end = ts + std::max<std::int64_t>(pkt->duration, 0);
          if (first[i] == AV_NOPTS_VALUE || ts < first[i]) first[i] = ts;
          if (last[i] == AV_NOPTS_VALUE || end > last[i]) last[i] = end;
        }
      }
      av_packet_unref(pkt.get());
    }
    for (unsigned i = 0; i < n; ++i) {
      StreamInfo& s = info.streams[i];
      if (s.frames <= 0) s.frames = count[i];
      if (s.duration <= 0 && first[i] != AV_NOPTS_VALUE)
        s.duration = static_cast<double>(last[i] - first[i]) * av_q2d(fmt->streams[i]->time_base);
    }
  }

  if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0)
    info.duration = static_cast<double>(fmt->duration) / AV_TIME_BASE;
  else
    for (const StreamInfo& s : info.streams) info.duration = std::max(info.duration, s.duration);
  return info;
}

}  // namespace emogene::video
