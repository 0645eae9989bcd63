// The C entry points of libedgeemo. Each one catches everything: no exception crosses the C
// boundary; failures become an edgeemo_status plus a thread-local message (edgeemo_last_error).
#include "internal.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <exception>
#include <new>
#include <string>
#include <utility>
#include <vector>

#ifndef EDGEEMO_VERSION_STRING
#error "EDGEEMO_VERSION_STRING must be defined by the build (CMakeLists.txt reads sdk/_version.py)"
#endif

struct edgeemo_recognizer {
    std::shared_ptr<edgeemo_impl::Model> model;
};

namespace {

struct WindowResult {
    std::vector<float> scores;
    edgeemo_window_info info{};
};

}  // namespace

struct edgeemo_stream {
    std::shared_ptr<const edgeemo_impl::Model> model;  // keeps the model alive
    std::vector<float> buf;          // samples [buf_start, total)
    uint64_t buf_start = 0;          // absolute index of buf[0]
    uint64_t total = 0;              // samples accepted
    uint64_t next_start = 0;         // start of the next window to emit
    bool flushed = false;
    std::deque<WindowResult> results;
    edgeemo_impl::Timings timings;
    std::vector<float> va_scratch;
    std::unique_ptr<edgeemo_impl::SpeechDetector> vad;  // sees the same (clipped) samples as the model
};

namespace edgeemo_impl {

namespace {

thread_local std::string t_last_error;

void set_last_error(const std::string& message) noexcept {
    try {
        t_last_error = message;
    } catch (...) {
        // Out of memory while storing the message: keep whatever was there.
    }
}

std::mutex g_log_mutex;
edgeemo_log_callback g_log_callback = nullptr;
void* g_log_user_data = nullptr;

const char* level_name(edgeemo_log_level l) {
    switch (l) {
        case EDGEEMO_LOG_DEBUG: return "debug";
        case EDGEEMO_LOG_INFO: return "info";
        case EDGEEMO_LOG_WARNING: return "warning";
        case EDGEEMO_LOG_ERROR: return "error";
        default: return "none";
    }
}

template <class F>
edgeemo_status guarded(F&& body) noexcept {
    try {
        body();
        return EDGEEMO_STATUS_OK;
    } catch (const Failure& f) {
        set_last_error(f.message);
        return f.status;
    } catch (const std::bad_alloc&) {
        set_last_error("out of memory");
        return EDGEEMO_STATUS_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        set_last_error(std::string("internal error: ") + e.what());
        return EDGEEMO_STATUS_INTERNAL;
    } catch (...) {
        set_last_error("internal error: unknown exception");
        return EDGEEMO_STATUS_INTERNAL;
    }
}

template <class T>
void require(const T* p, const char* name) {
    if (!p) fail(EDGEEMO_STATUS_INVALID_ARGUMENT, std::string(name) + " is NULL");
}

const Model& model_of(const edgeemo_recognizer* r) {
    require(r, "recognizer");
    if (!r->model) fail(EDGEEMO_STATUS_INVALID_ARGUMENT, "recognizer has no model");
    return *r->model;
}

void check_rate(const ModelInfo& info, int sample_rate) {
    if (sample_rate != info.sample_rate)
        fail(EDGEEMO_STATUS_INVALID_SAMPLE_RATE,
             "audio at " + std::to_string(sample_rate) + " Hz, but the model takes " +
                 std::to_string(info.sample_rate) +
                 " Hz mono: resample before calling (edgeemo's C API does not resample)");
}

// Same rules as the Python SDK (sdk/audio.py): NaN/Inf refused; values beyond [-1, 1] are
// clipped (clip_sample) up to a peak of 4.0 (+12 dBFS); a larger peak means integer PCM stored as
// floats and is refused.
constexpr float kFloatPeakLimit = 4.0f;

void check_audio(const float* pcm, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        const float x = pcm[i];
        if (!std::isfinite(x))
            fail(EDGEEMO_STATUS_INVALID_AUDIO,
                 "sample " + std::to_string(i) + " is " + (std::isnan(x) ? "NaN" : "infinite") +
                     ": audio must be finite float32 PCM in [-1, 1]");
        if (std::fabs(x) > kFloatPeakLimit)
            fail(EDGEEMO_STATUS_INVALID_AUDIO,
                 "sample " + std::to_string(i) + " is " + std::to_string(x) +
                     ": float audio must lie in [-1, 1]; this looks like integer PCM stored as floats "
                     "(divide int16 samples by 32768)");
    }
}

inline float clip_sample(float x) { return x < -1.0f ? -1.0f : (x > 1.0f ? 1.0f : x); }

size_t argmax(const float* p, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; ++i)
        if (p[i] > p[best]) best = i;
    return best;
}

void set_speech(edgeemo_window_info& info, double ratio) {
    info.speech_prob = static_cast<float>(ratio);
    info.is_speech = ratio >= kMinSpeechRatio ? 1 : 0;
}

// The speech detector run over a whole clip (clipped to [-1, 1], as the model sees it).
SpeechDetector clip_detector(const float* pcm, size_t n, int sample_rate) {
    SpeechDetector d(sample_rate);
    std::vector<float> x(pcm, pcm + n);
    std::transform(x.begin(), x.end(), x.begin(), clip_sample);
    d.accept(x.data(), x.size());
    return d;
}

void fill_info(edgeemo_window_info& info, const ModelInfo& m, uint64_t start, uint64_t end, const float* scores,
               const float* va) {
    info.start_sample = start;
    info.end_sample = end;
    info.start_s = static_cast<double>(start) / m.sample_rate;
    info.end_s = static_cast<double>(end) / m.sample_rate;
    info.label_index = argmax(scores, m.labels.size());
    info.has_valence_arousal = m.has_valence_arousal ? 1 : 0;
    info.valence = va ? va[0] : 0.0f;
    info.arousal = va ? va[1] : 0.0f;
}

// Runs every window of a clip in batches of max_batch. scores: n_windows x C; va: n_windows x 2.
void classify_clip(const Model& model, const float* pcm, size_t n, std::vector<size_t>& starts,
                   std::vector<float>& scores, std::vector<float>& va) {
    const ModelInfo& m = model.info();
    starts = clip_window_starts(n, m);
    if (starts.empty())
        fail(EDGEEMO_STATUS_AUDIO_TOO_SHORT,
             "clip of " + std::to_string(n) + " samples is shorter than the model's minimum of " +
                 std::to_string(m.min_samples) + " samples (" +
                 std::to_string(static_cast<double>(m.min_samples) / m.sample_rate) + " s)");
    const size_t W = m.window_samples, C = m.labels.size(), nw = starts.size();
    scores.assign(nw * C, 0.0f);
    va.assign(m.has_valence_arousal ? nw * 2 : 0, 0.0f);
    const size_t batch = std::min(nw, model.max_batch());
    std::vector<float> input(batch * W);
    for (size_t b0 = 0; b0 < nw; b0 += batch) {
        const size_t nb = std::min(batch, nw - b0);
        for (size_t k = 0; k < nb; ++k) {
            const size_t s = starts[b0 + k];
            const size_t len = std::min(W, n - s);
            float* dst = input.data() + k * W;
            std::transform(pcm + s, pcm + s + len, dst, clip_sample);
            std::fill(dst + len, dst + W, 0.0f);  // zero padding of a short clip
        }
        model.run(input.data(), nb, scores.data() + b0 * C, m.has_valence_arousal ? va.data() + b0 * 2 : nullptr);
    }
}

// Runs one stream window [start, start + W) (zero-padded past `end`) and queues the result.
void stream_emit(edgeemo_stream& s, uint64_t start, uint64_t end) {
    const Model& model = *s.model;
    const ModelInfo& m = model.info();
    const size_t W = m.window_samples, C = m.labels.size();
    std::vector<float> window(W, 0.0f);
    const size_t off = static_cast<size_t>(start - s.buf_start);
    const size_t len = static_cast<size_t>(end - start);
    std::copy(s.buf.begin() + off, s.buf.begin() + off + len, window.begin());
    WindowResult r;
    r.scores.resize(C);
    float va[2] = {0.0f, 0.0f};
    const double ms = model.run(window.data(), 1, r.scores.data(), m.has_valence_arousal ? va : nullptr);
    s.timings.add(ms, 1);
    fill_info(r.info, m, start, end, r.scores.data(), m.has_valence_arousal ? va : nullptr);
    set_speech(r.info, s.vad->speech_ratio(start, end));
    s.results.push_back(std::move(r));
}

// Drops samples no window can need any more (those before next_start). Compacts only when a
// window's worth can go, so appends stay amortized O(1) and the buffer stays below ~2 windows
// plus the last chunk.
void stream_compact(edgeemo_stream& s) {
    const uint64_t W = s.model->info().window_samples;
    const uint64_t keep_from = s.next_start;
    if (keep_from > s.buf_start && keep_from - s.buf_start >= W) {
        s.buf.erase(s.buf.begin(), s.buf.begin() + static_cast<std::ptrdiff_t>(keep_from - s.buf_start));
        s.buf_start = keep_from;
        s.vad->trim(keep_from);
    }
}

}  // namespace

void fail(edgeemo_status status, std::string message) { throw Failure{status, std::move(message)}; }

void log_message(edgeemo_log_level threshold, edgeemo_log_level level, const std::string& message) {
    if (level < threshold || level >= EDGEEMO_LOG_NONE) return;
    edgeemo_log_callback cb;
    void* user;
    {
        std::lock_guard<std::mutex> lock(g_log_mutex);
        cb = g_log_callback;
        user = g_log_user_data;
    }
    if (cb)
        cb(level, message.c_str(), user);
    else
        std::fprintf(stderr, "edgeemo [%s] %s\n", level_name(level), message.c_str());
}

}  // namespace edgeemo_impl

using namespace edgeemo_impl;

extern "C" {

EDGEEMO_API const char* edgeemo_status_string(edgeemo_status status) {
    switch (status) {
        case EDGEEMO_STATUS_OK: return "EDGEEMO_STATUS_OK";
        case EDGEEMO_STATUS_INVALID_ARGUMENT: return "EDGEEMO_STATUS_INVALID_ARGUMENT";
        case EDGEEMO_STATUS_INVALID_SAMPLE_RATE: return "EDGEEMO_STATUS_INVALID_SAMPLE_RATE";
        case EDGEEMO_STATUS_INVALID_AUDIO: return "EDGEEMO_STATUS_INVALID_AUDIO";
        case EDGEEMO_STATUS_AUDIO_TOO_SHORT: return "EDGEEMO_STATUS_AUDIO_TOO_SHORT";
        case EDGEEMO_STATUS_MODEL_NOT_FOUND: return "EDGEEMO_STATUS_MODEL_NOT_FOUND";
        case EDGEEMO_STATUS_MODEL_LOAD: return "EDGEEMO_STATUS_MODEL_LOAD";
        case EDGEEMO_STATUS_MODEL_METADATA: return "EDGEEMO_STATUS_MODEL_METADATA";
        case EDGEEMO_STATUS_PROVIDER: return "EDGEEMO_STATUS_PROVIDER";
        case EDGEEMO_STATUS_RUNTIME: return "EDGEEMO_STATUS_RUNTIME";
        case EDGEEMO_STATUS_NO_RESULT: return "EDGEEMO_STATUS_NO_RESULT";
        case EDGEEMO_STATUS_BUFFER_TOO_SMALL: return "EDGEEMO_STATUS_BUFFER_TOO_SMALL";
        case EDGEEMO_STATUS_INVALID_STATE: return "EDGEEMO_STATUS_INVALID_STATE";
        case EDGEEMO_STATUS_OUT_OF_MEMORY: return "EDGEEMO_STATUS_OUT_OF_MEMORY";
        case EDGEEMO_STATUS_INTERNAL: return "EDGEEMO_STATUS_INTERNAL";
    }
    return "EDGEEMO_STATUS_UNKNOWN";
}

EDGEEMO_API const char* edgeemo_last_error(void) { return t_last_error.c_str(); }

EDGEEMO_API const char* edgeemo_version(void) { return EDGEEMO_VERSION_STRING; }

EDGEEMO_API const char* edgeemo_onnxruntime_version(void) {
    const char* v = OrtGetApiBase()->GetVersionString();
    return v ? v : "";
}

EDGEEMO_API void edgeemo_set_log_callback(edgeemo_log_callback callback, void* user_data) {
    std::lock_guard<std::mutex> lock(g_log_mutex);
    g_log_callback = callback;
    g_log_user_data = user_data;
}

EDGEEMO_API edgeemo_recognizer_config edgeemo_recognizer_default_config(void) {
    edgeemo_recognizer_config c;
    c.model_path = nullptr;
    c.num_threads = 1;
    c.provider = "cpu";
    c.device_id = 0;
    c.tensorrt_cache_dir = nullptr;
    c.max_batch = 0;
    c.log_level = EDGEEMO_LOG_WARNING;
    return c;
}

EDGEEMO_API edgeemo_status edgeemo_recognizer_create(const edgeemo_recognizer_config* config,
                                                     edgeemo_recognizer** out) {
    if (out) *out = nullptr;
    return guarded([&] {
        require(config, "config");
        require(out, "out");
        auto model = Model::load(*config);
        *out = new edgeemo_recognizer{std::move(model)};
    });
}

EDGEEMO_API void edgeemo_recognizer_destroy(edgeemo_recognizer* recognizer) {
    guarded([&] { delete recognizer; });
}

EDGEEMO_API edgeemo_status edgeemo_recognizer_sample_rate(const edgeemo_recognizer* r, int* out) {
    return guarded([&] {
        require(out, "out");
        *out = model_of(r).info().sample_rate;
    });
}

EDGEEMO_API edgeemo_status edgeemo_recognizer_window_samples(const edgeemo_recognizer* r, size_t* out) {
    return guarded([&] {
        require(out, "out");
        *out = model_of(r).info().window_samples;
    });
}

EDGEEMO_API edgeemo_status edgeemo_recognizer_hop_samples(const edgeemo_recognizer* r, size_t* out) {
    return guarded([&] {
        require(out, "out");
        *out = model_of(r).info().hop_samples;
    });
}

EDGEEMO_API edgeemo_status edgeemo_recognizer_min_samples(const edgeemo_recognizer* r, size_t* out) {
    return guarded([&] {
        require(out, "out");
        *out = model_of(r).info().min_samples;
    });
}

EDGEEMO_API edgeemo_status edgeemo_recognizer_label_count(const edgeemo_recognizer* r, size_t* out) {
    return guarded([&] {
        require(out, "out");
        *out = model_of(r).info().labels.size();
    });
}

EDGEEMO_API edgeemo_status edgeemo_recognizer_label(const edgeemo_recognizer* r, size_t i, const char** out) {
    if (out) *out = nullptr;
    return guarded([&] {
        require(out, "out");
        const auto& labels = model_of(r).info().labels;
        if (i >= labels.size())
            fail(EDGEEMO_STATUS_INVALID_ARGUMENT,
                 "label index " + std::to_string(i) + " out of range (the model has " +
                     std::to_string(labels.size()) + " labels)");
        *out = labels[i].c_str();
    });
}

EDGEEMO_API edgeemo_status edgeemo_recognizer_has_valence_arousal(const edgeemo_recognizer* r, int* out) {
    return guarded([&] {
        require(out, "out");
        *out = model_of(r).info().has_valence_arousal ? 1 : 0;
    });
}

EDGEEMO_API edgeemo_status edgeemo_recognizer_metadata(const edgeemo_recognizer* r, const char* key,
                                                       const char** out) {
    if (out) *out = nullptr;
    return guarded([&] {
        require(key, "key");
        require(out, "out");
        const auto& md = model_of(r).info().metadata;
        auto it = md.find(key);
        if (it == md.end()) fail(EDGEEMO_STATUS_INVALID_ARGUMENT, std::string("the model has no metadata key '") + key + "'");
        *out = it->second.c_str();
    });
}

EDGEEMO_API edgeemo_status edgeemo_recognizer_provider(const edgeemo_recognizer* r, const char** out) {
    if (out) *out = nullptr;
    return guarded([&] {
        require(out, "out");
        *out = model_of(r).provider().c_str();
    });
}

EDGEEMO_API edgeemo_status edgeemo_recognizer_timings(const edgeemo_recognizer* r, edgeemo_timings* out) {
    return guarded([&] {
        require(out, "out");
        *out = model_of(r).timings().get();
    });
}

EDGEEMO_API edgeemo_status edgeemo_clip_window_count(const edgeemo_recognizer* r, size_t n_samples, size_t* out) {
    return guarded([&] {
        require(out, "out");
        *out = clip_window_starts(n_samples, model_of(r).info()).size();
    });
}

EDGEEMO_API edgeemo_status edgeemo_classify(const edgeemo_recognizer* r, const float* pcm, size_t n_samples,
                                            int sample_rate, float* scores, size_t n_scores,
                                            edgeemo_clip_info* info) {
    return guarded([&] {
        const Model& model = model_of(r);
        const ModelInfo& m = model.info();
        require(pcm, "pcm");
        require(scores, "scores");
        const size_t C = m.labels.size();
        if (n_scores < C)
            fail(EDGEEMO_STATUS_BUFFER_TOO_SMALL,
                 "scores has room for " + std::to_string(n_scores) + " values, the model has " + std::to_string(C) +
                     " labels");
        check_rate(m, sample_rate);
        check_audio(pcm, n_samples);
        std::vector<size_t> starts;
        std::vector<float> all, va;
        classify_clip(model, pcm, n_samples, starts, all, va);
        const size_t nw = starts.size();
        std::vector<double> sum(C, 0.0);
        for (size_t w = 0; w < nw; ++w)
            for (size_t c = 0; c < C; ++c) sum[c] += all[w * C + c];
        for (size_t c = 0; c < C; ++c) scores[c] = static_cast<float>(sum[c] / static_cast<double>(nw));
        if (info) {
            edgeemo_clip_info ci{};
            ci.n_windows = nw;
            ci.label_index = argmax(scores, C);
            ci.duration_s = static_cast<double>(n_samples) / m.sample_rate;
            ci.has_valence_arousal = m.has_valence_arousal ? 1 : 0;
            const double ratio = clip_detector(pcm, n_samples, m.sample_rate).speech_ratio(0, n_samples);
            ci.speech_prob = static_cast<float>(ratio);
            ci.is_speech = ratio >= kMinSpeechRatio ? 1 : 0;
            if (m.has_valence_arousal) {
                double v = 0, a = 0;
                for (size_t w = 0; w < nw; ++w) {
                    v += va[w * 2];
                    a += va[w * 2 + 1];
                }
                ci.valence = static_cast<float>(v / static_cast<double>(nw));
                ci.arousal = static_cast<float>(a / static_cast<double>(nw));
            }
            *info = ci;
        }
    });
}

EDGEEMO_API edgeemo_status edgeemo_classify_windows(const edgeemo_recognizer* r, const float* pcm,
                                                    size_t n_samples, int sample_rate, float* scores,
                                                    size_t n_scores, edgeemo_window_info* infos, size_t n_infos,
                                                    size_t* n_windows_out) {
    if (n_windows_out) *n_windows_out = 0;
    return guarded([&] {
        const Model& model = model_of(r);
        const ModelInfo& m = model.info();
        require(pcm, "pcm");
        require(scores, "scores");
        if (!infos && n_infos) fail(EDGEEMO_STATUS_INVALID_ARGUMENT, "infos is NULL but n_infos > 0");
        check_rate(m, sample_rate);
        const size_t C = m.labels.size();
        const size_t nw = clip_window_starts(n_samples, m).size();
        if (nw > 0 && n_scores < nw * C)
            fail(EDGEEMO_STATUS_BUFFER_TOO_SMALL, "scores has room for " + std::to_string(n_scores) + " values, " +
                                                      std::to_string(nw) + " windows x " + std::to_string(C) +
                                                      " labels are needed");
        if (infos && n_infos < nw)
            fail(EDGEEMO_STATUS_BUFFER_TOO_SMALL, "infos has room for " + std::to_string(n_infos) + " windows, " +
                                                      std::to_string(nw) + " are needed");
        check_audio(pcm, n_samples);
        std::vector<size_t> starts;
        std::vector<float> all, va;
        classify_clip(model, pcm, n_samples, starts, all, va);
        std::copy(all.begin(), all.end(), scores);
        if (infos) {
            const SpeechDetector d = clip_detector(pcm, n_samples, m.sample_rate);
            for (size_t w = 0; w < nw; ++w) {
                const uint64_t end = std::min<uint64_t>(starts[w] + m.window_samples, n_samples);
                fill_info(infos[w], m, starts[w], end, all.data() + w * C,
                          m.has_valence_arousal ? va.data() + w * 2 : nullptr);
                set_speech(infos[w], d.speech_ratio(starts[w], end));
            }
        }
        if (n_windows_out) *n_windows_out = nw;
    });
}

EDGEEMO_API edgeemo_status edgeemo_speech_frames(const float* pcm, size_t n_samples, int sample_rate,
                                                 double* probs, size_t n_probs, size_t* n_frames_out) {
    if (n_frames_out) *n_frames_out = 0;
    return guarded([&] {
        if (!pcm && n_samples > 0) fail(EDGEEMO_STATUS_INVALID_ARGUMENT, "pcm is NULL");
        if (!probs && n_probs > 0) fail(EDGEEMO_STATUS_INVALID_ARGUMENT, "probs is NULL but n_probs > 0");
        if (sample_rate < 8000 || sample_rate > 192000)
            fail(EDGEEMO_STATUS_INVALID_SAMPLE_RATE,
                 "sample_rate must lie in [8000, 192000] Hz, not " + std::to_string(sample_rate));
        if (n_samples) check_audio(pcm, n_samples);
        const SpeechDetector d = clip_detector(pcm, n_samples, sample_rate);
        const std::vector<double>& p = d.frame_probs();
        std::copy(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(std::min(n_probs, p.size())), probs);
        if (n_frames_out) *n_frames_out = p.size();
    });
}

EDGEEMO_API edgeemo_status edgeemo_stream_create(const edgeemo_recognizer* r, edgeemo_stream** out) {
    if (out) *out = nullptr;
    return guarded([&] {
        require(out, "out");
        model_of(r);
        auto* s = new edgeemo_stream();
        s->model = r->model;
        s->buf.reserve(2 * s->model->info().window_samples);
        s->vad = std::make_unique<edgeemo_impl::SpeechDetector>(s->model->info().sample_rate);
        *out = s;
    });
}

EDGEEMO_API void edgeemo_stream_destroy(edgeemo_stream* stream) {
    guarded([&] { delete stream; });
}

EDGEEMO_API edgeemo_status edgeemo_stream_accept(edgeemo_stream* s, const float* pcm, size_t n, int sample_rate) {
    return guarded([&] {
        require(s, "stream");
        if (!pcm && n > 0) fail(EDGEEMO_STATUS_INVALID_ARGUMENT, "pcm is NULL");
        const ModelInfo& m = s->model->info();
        check_rate(m, sample_rate);
        if (s->flushed)
            fail(EDGEEMO_STATUS_INVALID_STATE, "the stream was flushed: call edgeemo_stream_reset before accepting audio");
        if (n == 0) return;
        check_audio(pcm, n);
        const size_t old = s->buf.size();
        s->buf.resize(old + n);
        std::transform(pcm, pcm + n, s->buf.begin() + static_cast<std::ptrdiff_t>(old), clip_sample);
        s->vad->accept(s->buf.data() + old, n);
        s->total += n;
        const uint64_t W = m.window_samples;
        while (s->next_start + W <= s->total) {
            stream_emit(*s, s->next_start, s->next_start + W);
            s->next_start += m.hop_samples;
        }
        stream_compact(*s);
    });
}

EDGEEMO_API size_t edgeemo_stream_ready(const edgeemo_stream* s) {
    return s ? s->results.size() : 0;
}

EDGEEMO_API edgeemo_status edgeemo_stream_pop(edgeemo_stream* s, float* scores, size_t n_scores,
                                              edgeemo_window_info* info) {
    return guarded([&] {
        require(s, "stream");
        require(scores, "scores");
        const size_t C = s->model->info().labels.size();
        if (n_scores < C)
            fail(EDGEEMO_STATUS_BUFFER_TOO_SMALL, "scores has room for " + std::to_string(n_scores) +
                                                      " values, the model has " + std::to_string(C) + " labels");
        if (s->results.empty()) fail(EDGEEMO_STATUS_NO_RESULT, "no window ready");
        WindowResult& r = s->results.front();
        std::copy(r.scores.begin(), r.scores.end(), scores);
        if (info) *info = r.info;
        s->results.pop_front();
    });
}

EDGEEMO_API edgeemo_status edgeemo_stream_flush(edgeemo_stream* s) {
    return guarded([&] {
        require(s, "stream");
        if (s->flushed) return;
        // The partial window starting at the next hop, zero-padded, if it holds at least
        // min_samples samples (as the Python SDK's Stream.flush).
        const ModelInfo& m = s->model->info();
        const uint64_t tail = s->total - s->next_start;
        if (tail > 0 && tail >= m.min_samples) stream_emit(*s, s->next_start, s->total);
        s->flushed = true;
    });
}

EDGEEMO_API edgeemo_status edgeemo_stream_reset(edgeemo_stream* s) {
    return guarded([&] {
        require(s, "stream");
        s->buf.clear();
        s->buf_start = s->total = s->next_start = 0;
        s->flushed = false;
        s->results.clear();
        s->vad->reset();
    });
}

EDGEEMO_API edgeemo_status edgeemo_stream_samples(const edgeemo_stream* s, uint64_t* out) {
    return guarded([&] {
        require(s, "stream");
        require(out, "out");
        *out = s->total;
    });
}

EDGEEMO_API edgeemo_status edgeemo_stream_timings(const edgeemo_stream* s, edgeemo_timings* out) {
    return guarded([&] {
        require(s, "stream");
        require(out, "out");
        *out = s->timings.get();
    });
}

}  // extern "C"
