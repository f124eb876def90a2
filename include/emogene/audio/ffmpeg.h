// RAII owners for FFmpeg objects and the one place FFmpeg error codes become emogene::Error.
// Shared by audio/ (decoding) and video/ (decoding and encoding). Includes FFmpeg's C headers.
#pragma once

#include <memory>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

namespace emogene::ff {

struct InputCloser { void operator()(AVFormatContext* p) const { avformat_close_input(&p); } };
struct OutputCloser { void operator()(AVFormatContext* p) const; };  // closes pb, frees context
struct CodecCloser { void operator()(AVCodecContext* p) const { avcodec_free_context(&p); } };
struct FrameCloser { void operator()(AVFrame* p) const { av_frame_free(&p); } };
struct PacketCloser { void operator()(AVPacket* p) const { av_packet_free(&p); } };
struct SwrCloser { void operator()(SwrContext* p) const { swr_free(&p); } };
struct SwsCloser { void operator()(SwsContext* p) const { sws_freeContext(p); } };

using InputPtr = std::unique_ptr<AVFormatContext, InputCloser>;
using OutputPtr = std::unique_ptr<AVFormatContext, OutputCloser>;
using CodecPtr = std::unique_ptr<AVCodecContext, CodecCloser>;
using FramePtr = std::unique_ptr<AVFrame, FrameCloser>;
using PacketPtr = std::unique_ptr<AVPacket, PacketCloser>;
using SwrPtr = std::unique_ptr<SwrContext, SwrCloser>;
using SwsPtr = std::unique_ptr<SwsContext, SwsCloser>;

FramePtr make_frame();    // throws on allocation failure
PacketPtr make_packet();

// FFmpeg's text for an error code.
std::string error_text(int errnum);

// Throws when ret < 0: bad_input("<where>: <what>: <ffmpeg text>") if bad_input, else internal_error.
void check(int ret, const std::string& where, const std::string& what, bool bad_input = true);

// Opens a media file for reading and reads its stream info; throws bad_input naming the file for a
// missing, empty, unreadable or unrecognised file.
InputPtr open_input(const std::string& path);

// Opens a decoder for stream `index` of an opened input (threads: decoder thread count, 0 = auto).
CodecPtr open_decoder(AVFormatContext* fmt, int index, const std::string& where, int threads = 1);

// "N.N.N" of libavformat/libavcodec and FFmpeg's own version string.
std::string version();

// FFmpeg prints nothing itself (its errors reach the user as Error); warnings with -v.
void set_log_level(bool verbose);

}  // namespace emogene::ff
