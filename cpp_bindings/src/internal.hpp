// Internal declarations of libedgeemo (not installed, not part of the API).
#ifndef EDGEEMO_INTERNAL_HPP
#define EDGEEMO_INTERNAL_HPP

#include "edgeemo.h"

#include <onnxruntime_c_api.h>

#include <complex>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace edgeemo_impl {

// Thrown inside the library only; every C entry point turns it into a status + last error.
struct Failure {
    edgeemo_status status;
    std::string message;
};
[[noreturn]] void fail(edgeemo_status status, std::string message);

// Logging: the process-wide callback (edgeemo_set_log_callback), filtered by `threshold`.
void log_message(edgeemo_log_level threshold, edgeemo_log_level level, const std::string& message);

// ONNX Runtime's C API table for the headers' API version; throws Failure(RUNTIME) if the loaded
// runtime is older than the headers.
const OrtApi& ort();

struct ModelInfo {
    int sample_rate = 0;
    size_t window_samples = 0;
    size_t hop_samples = 0;
    size_t min_samples = 0;
    std::vector<std::string> labels;
    bool has_valence_arousal = false;
    std::map<std::string, std::string> metadata;  // every custom metadata key of the file
};

class Timings {
public:
    void add(double ms, size_t windows);
    void set_load_ms(double ms);
    edgeemo_timings get() const;

private:
    mutable std::mutex mutex_;
    edgeemo_timings t_{};
};

// One loaded ONNX session plus its validated metadata. Immutable after load, so shareable:
// OrtApi::Run is thread-safe for one session; the timings have their own mutex.
class Model {
public:
    static std::shared_ptr<Model> load(const edgeemo_recognizer_config& config);
    ~Model();
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    const ModelInfo& info() const { return info_; }
    const std::string& provider() const { return provider_; }
    size_t max_batch() const { return max_batch_; }
    edgeemo_log_level log_level() const { return log_level_; }
    Timings& timings() const { return timings_; }

    // input: n_windows x window_samples floats. probs: n_windows x n_labels. va: n_windows x 2
    // (only written when the model has the head; may be null otherwise). Returns wall ms.
    double run(const float* input, size_t n_windows, float* probs, float* va) const;

private:
    Model() = default;
    void create_session(const edgeemo_recognizer_config& config);
    void read_metadata(const std::string& path);
    void check_graph();

    OrtEnv* env_ = nullptr;
    OrtSession* session_ = nullptr;
    OrtMemoryInfo* memory_info_ = nullptr;
    ModelInfo info_;
    std::string path_;
    std::string provider_ = "cpu";
    size_t max_batch_ = 8;
    edgeemo_log_level log_level_ = EDGEEMO_LOG_WARNING;
    mutable Timings timings_;
};

// The speech detector (sdk/vad.py's SpeechDetector, same rule and constants): feed samples at
// sample_rate, ask the fraction of speech frames of any span already fed.
constexpr double kDefaultVadThreshold = 0.5;
constexpr double kMinSpeechRatio = 0.1;  // a window or clip is speech from this fraction on

class SpeechDetector {
public:
    explicit SpeechDetector(int sample_rate, double threshold = kDefaultVadThreshold);
    void reset();
    void accept(const float* x, size_t n);
    double speech_ratio(uint64_t start, uint64_t end) const;
    void trim(uint64_t before_sample);
    const std::vector<double>& frame_probs() const { return probs_; }
    size_t frame_len() const { return frame_len_; }

private:
    double frame_prob(const double* frame);
    static std::vector<std::complex<double>> twiddles(size_t n);
    static void fft(std::vector<std::complex<double>>& a, const std::vector<std::complex<double>>& tw, bool inverse);

    int sample_rate_;
    double threshold_;
    size_t frame_len_ = 0, nfft_ = 0, nfft_ac_ = 0, bin_lo_ = 0, bin_hi_ = 0, history_ = 1;
    long lag_lo_ = 0, lag_hi_ = 0;
    std::vector<size_t> edges_;
    std::vector<double> window_;
    std::vector<std::complex<double>> tw_, tw_ac_, spec_buf_, ac_buf_;
    std::vector<float> pending_;
    std::vector<double> hist_;
    std::vector<double> prev_shape_;
    std::vector<double> probs_;
    uint64_t first_ = 0;
    uint64_t n_frames_ = 0;
};

// Window plan of a whole clip (docs/model_contract.md): starts of windows, empty if too short.
std::vector<size_t> clip_window_starts(size_t n_samples, const ModelInfo& info);

double now_ms();

}  // namespace edgeemo_impl

#endif
