// The speech detector: the same frame rule, with the same constants, as the Python SDK's
// edgeemo.vad.SpeechDetector (sdk/vad.py explains the four cues). tests/cpp/check_vad_parity.py
// compares the frame probabilities of both on the same signals.
#include "internal.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>

namespace edgeemo_impl {

namespace {

constexpr double kFrameS = 0.03;
constexpr double kHistoryS = 1.5;
constexpr double kMarginDb = 12.0;
constexpr double kAbsFloorDb = -70.0;
constexpr double kSlopeDb = 3.0;
constexpr double kSilenceDb = -120.0;
constexpr double kFLoHz = 100.0;
constexpr double kFHiHz = 7600.0;
constexpr int kBands = 16;
constexpr double kFlatnessMax = 0.4;
constexpr double kFlatnessSlope = 0.02;
constexpr double kFluxMinDb = 1.0;
constexpr double kFluxSlopeDb = 0.1;
constexpr int kPitchMinHz = 60;
constexpr int kPitchMaxHz = 400;
constexpr double kVoicingMin = 0.5;
constexpr double kVoicingSlope = 0.02;
constexpr double kPowerEps = 1e-12;
constexpr double kBandEps = 1e-10;
constexpr double kSkipBelow = 1e-6;  // voicing not computed, probability 0 (as sdk/vad.py)

// Python's round(): half to even (the default floating-point rounding mode).
long py_round(double x) { return static_cast<long>(std::nearbyint(x)); }

size_t next_pow2(size_t n) {
    size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

double sigmoid(double z) {
    z = std::min(std::max(z, -500.0), 500.0);
    return 1.0 / (1.0 + std::exp(-z));
}

}  // namespace

std::vector<std::complex<double>> SpeechDetector::twiddles(size_t n) {
    std::vector<std::complex<double>> w(n / 2);
    const double pi = 3.14159265358979323846;
    for (size_t k = 0; k < n / 2; ++k)
        w[k] = std::complex<double>(std::cos(2.0 * pi * static_cast<double>(k) / static_cast<double>(n)),
                                    -std::sin(2.0 * pi * static_cast<double>(k) / static_cast<double>(n)));
    return w;
}

// In-place iterative radix-2 FFT (n a power of two, tw = twiddles(n)); inverse without the 1/n factor.
void SpeechDetector::fft(std::vector<std::complex<double>>& a, const std::vector<std::complex<double>>& tw,
                         bool inverse) {
    const size_t n = a.size();
    for (size_t i = 1, j = 0; i < n; ++i) {
        size_t bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) std::swap(a[i], a[j]);
    }
    for (size_t len = 2; len <= n; len <<= 1) {
        const size_t step = n / len;
        for (size_t i = 0; i < n; i += len) {
            for (size_t k = 0; k < len / 2; ++k) {
                const std::complex<double> w = inverse ? std::conj(tw[k * step]) : tw[k * step];
                const std::complex<double> u = a[i + k], v = a[i + k + len / 2] * w;
                a[i + k] = u + v;
                a[i + k + len / 2] = u - v;
            }
        }
    }
}

SpeechDetector::SpeechDetector(int sample_rate, double threshold) : sample_rate_(sample_rate), threshold_(threshold) {
    const double sr = static_cast<double>(sample_rate);
    frame_len_ = static_cast<size_t>(std::max(1L, py_round(kFrameS * sr)));
    nfft_ = next_pow2(frame_len_);
    nfft_ac_ = next_pow2(2 * frame_len_);
    const double hi_hz = std::min(kFHiHz, 0.475 * sr);
    const double nf = static_cast<double>(nfft_);
    bin_lo_ = static_cast<size_t>(std::max(1L, py_round(kFLoHz * nf / sr)));
    bin_hi_ = static_cast<size_t>(std::max(static_cast<long>(bin_lo_) + 1, py_round(hi_hz * nf / sr)));
    const double mel_lo = 2595.0 * std::log10(1.0 + kFLoHz / 700.0);
    const double mel_hi = 2595.0 * std::log10(1.0 + hi_hz / 700.0);
    edges_.resize(kBands + 1);
    for (int i = 0; i <= kBands; ++i) {
        const double hz = 700.0 * (std::pow(10.0, (mel_lo + (mel_hi - mel_lo) * i / kBands) / 2595.0) - 1.0);
        edges_[static_cast<size_t>(i)] = static_cast<size_t>(py_round(hz * nf / sr));
    }
    for (size_t i = 1; i < edges_.size(); ++i) edges_[i] = std::max(edges_[i], edges_[i - 1] + 1);
    lag_lo_ = std::max<long>(2, sample_rate / kPitchMaxHz);
    lag_hi_ = std::min<long>(static_cast<long>(frame_len_) - 2, sample_rate / kPitchMinHz);
    history_ = static_cast<size_t>(std::max(1L, py_round(kHistoryS / kFrameS)));
    window_.resize(frame_len_);
    const double pi = 3.14159265358979323846;
    for (size_t i = 0; i < frame_len_; ++i)
        window_[i] = 0.5 - 0.5 * std::cos(2.0 * pi * (static_cast<double>(i) + 1.0) / (static_cast<double>(frame_len_) + 1.0));
    tw_ = twiddles(nfft_);
    tw_ac_ = twiddles(nfft_ac_);
    spec_buf_.resize(nfft_);
    ac_buf_.resize(nfft_ac_);
    reset();
}

void SpeechDetector::reset() {
    pending_.clear();
    hist_.clear();
    prev_shape_.clear();
    probs_.clear();
    first_ = 0;
    n_frames_ = 0;
}

double SpeechDetector::frame_prob(const double* x) {
    const size_t n = frame_len_;
    // 1. energy against the floor of the last history_ frames (this one included)
    double power = 0.0;
    for (size_t i = 0; i < n; ++i) power += x[i] * x[i];
    power /= static_cast<double>(n);
    const double energy = 10.0 * std::log10(std::max(power, std::pow(10.0, kSilenceDb / 10.0)));
    double floor = energy;
    for (double h : hist_) floor = std::min(floor, h);
    hist_.push_back(energy);
    if (hist_.size() > history_ - 1) hist_.erase(hist_.begin(), hist_.end() - static_cast<std::ptrdiff_t>(history_ - 1));
    const double thr = std::max(floor + kMarginDb, kAbsFloorDb);
    const double p_energy = sigmoid((energy - thr) / kSlopeDb);

    // 2. and 3. spectrum: flatness and the level-normalised band shape
    std::vector<std::complex<double>>& f = spec_buf_;
    std::fill(f.begin(), f.end(), std::complex<double>(0.0, 0.0));
    for (size_t i = 0; i < n; ++i) f[i] = x[i] * window_[i];
    fft(f, tw_, false);
    std::vector<double> spec(nfft_ / 2 + 1);
    for (size_t k = 0; k < spec.size(); ++k) spec[k] = std::norm(f[k]);
    double log_sum = 0.0, sum = 0.0;
    for (size_t k = bin_lo_; k < bin_hi_; ++k) {
        const double s = spec[k] + kPowerEps;
        log_sum += std::log(s);
        sum += s;
    }
    const double m = static_cast<double>(bin_hi_ - bin_lo_);
    const double flatness = std::exp(log_sum / m) / (sum / m);
    std::vector<double> shape(kBands);
    double mean = 0.0;
    for (int b = 0; b < kBands; ++b) {
        double e = 0.0;
        for (size_t k = edges_[static_cast<size_t>(b)]; k < edges_[static_cast<size_t>(b) + 1] && k < spec.size(); ++k)
            e += spec[k];
        shape[static_cast<size_t>(b)] = 10.0 * std::log10(e + kBandEps);
        mean += shape[static_cast<size_t>(b)];
    }
    mean /= kBands;
    for (double& v : shape) v -= mean;
    double flux = 0.0;
    if (!prev_shape_.empty())
        for (int b = 0; b < kBands; ++b) flux += std::fabs(shape[static_cast<size_t>(b)] - prev_shape_[static_cast<size_t>(b)]);
    flux /= kBands;
    prev_shape_ = shape;

    const double p_flat = sigmoid((kFlatnessMax - flatness) / kFlatnessSlope);
    const double p_flux = sigmoid((flux - kFluxMinDb) / kFluxSlopeDb);
    const double pre = p_energy * p_flat * p_flux;
    if (pre < kSkipBelow) return 0.0;

    // 4. voicing: highest interior peak of the normalised cross-correlation over pitch lags
    double voicing = 0.0;
    if (lag_hi_ - lag_lo_ >= 2) {
        double xm = 0.0;
        for (size_t i = 0; i < n; ++i) xm += x[i];
        xm /= static_cast<double>(n);
        std::vector<double> c(n + 1, 0.0);
        std::vector<std::complex<double>>& a = ac_buf_;
        std::fill(a.begin(), a.end(), std::complex<double>(0.0, 0.0));
        for (size_t i = 0; i < n; ++i) {
            const double xc = x[i] - xm;
            a[i] = xc;
            c[i + 1] = c[i] + xc * xc;
        }
        fft(a, tw_ac_, false);
        for (auto& v : a) v = std::norm(v);
        fft(a, tw_ac_, true);
        const double inv = 1.0 / static_cast<double>(nfft_ac_);
        auto ncc = [&](long lag) {
            const size_t L = static_cast<size_t>(lag);
            const double e0 = c[n - L], e1 = c[n] - c[L];
            return a[L].real() * inv / std::sqrt(std::max(e0 * e1, 1e-20));
        };
        double left = ncc(lag_lo_ - 1), mid = ncc(lag_lo_);
        for (long lag = lag_lo_; lag <= lag_hi_; ++lag) {
            const double right = ncc(lag + 1);
            if (mid >= left && mid >= right) voicing = std::max(voicing, mid);
            left = mid;
            mid = right;
        }
    }
    return pre * sigmoid((voicing - kVoicingMin) / kVoicingSlope);
}

void SpeechDetector::accept(const float* x, size_t count) {
    std::vector<double> frame(frame_len_);
    size_t i = 0;
    while (i < count) {
        const size_t take = std::min(count - i, frame_len_ - pending_.size());
        pending_.insert(pending_.end(), x + i, x + i + take);
        i += take;
        if (pending_.size() == frame_len_) {
            for (size_t k = 0; k < frame_len_; ++k) frame[k] = static_cast<double>(pending_[k]);
            probs_.push_back(frame_prob(frame.data()));
            ++n_frames_;
            pending_.clear();
        }
    }
}

double SpeechDetector::speech_ratio(uint64_t start, uint64_t end) const {
    const uint64_t fl = frame_len_;
    const uint64_t first = std::max<uint64_t>((start + fl - 1) / fl, first_);
    const uint64_t last = std::min<uint64_t>(end / fl, n_frames_);
    if (last <= first) return 0.0;
    size_t speech = 0;
    for (uint64_t f = first; f < last; ++f)
        if (probs_[static_cast<size_t>(f - first_)] >= threshold_) ++speech;
    return static_cast<double>(speech) / static_cast<double>(last - first);
}

void SpeechDetector::trim(uint64_t before_sample) {
    const uint64_t upto = std::min<uint64_t>(before_sample / frame_len_, n_frames_);
    if (upto > first_) {
        probs_.erase(probs_.begin(), probs_.begin() + static_cast<std::ptrdiff_t>(upto - first_));
        first_ = upto;
    }
}

}  // namespace edgeemo_impl
