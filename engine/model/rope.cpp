#include "engine/model/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace llm {
namespace {

// yarn: 1 + 0.1 * mscale * ln(scale) for scale > 1.
double yarn_mscale(double scale, double mscale) {
  return scale <= 1 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

// yarn: the dimension whose wavelength turns `rotations` times over `max_positions`.
double yarn_correction_dim(double rotations, int dim, double base, int max_positions) {
  return dim * std::log(max_positions / (rotations * 2 * std::numbers::pi)) / (2 * std::log(base));
}

}  // namespace

RopeFrequencies rope_frequencies(const ModelConfig& c, bool long_factors) {
  const RopeScaling& s = c.rope_scaling;
  const int dim = c.rotary_dim, half = dim / 2;
  const double base = c.rope_theta;
  RopeFrequencies out;
  out.inv_freq.resize(static_cast<size_t>(half));
  for (int i = 0; i < half; ++i)
    out.inv_freq[static_cast<size_t>(i)] = std::pow(base, -2.0 * i / dim);
  const int original_max = s.original_max_position_embeddings > 0
                               ? s.original_max_position_embeddings
                               : c.max_position_embeddings;
  if (s.type == "longrope") {
    const std::vector<double>& ext = long_factors ? s.long_factor : s.short_factor;
    for (int i = 0; i < half; ++i)
      out.inv_freq[static_cast<size_t>(i)] /= ext[static_cast<size_t>(i)];
    out.attention_scale = s.attention_factor;
    if (out.attention_scale == 0) {
      out.attention_scale =
          s.factor <= 1 ? 1.0 : std::sqrt(1 + std::log(s.factor) / std::log(original_max));
    }
  } else if (s.type == "freq_factors") {
    for (int i = 0; i < half; ++i)
      out.inv_freq[static_cast<size_t>(i)] /= s.short_factor[static_cast<size_t>(i)];
  } else if (s.type == "dynamic") {
    // Dynamic NTK: transformers raises the base only once a sequence grows past
    // max_position_embeddings (the frequencies then depend on the longest length seen), and the
    // engine serves no sequence that long: a request beyond the context is refused. Within it,
    // transformers' dynamic RoPE is the unscaled one, computed here.
  } else if (s.type == "linear") {
    for (double& f : out.inv_freq) f /= s.factor;
  } else if (s.type == "llama3") {
    // Long wavelengths are stretched by `factor`, short ones kept, the band between blended.
    const double low_wavelen = original_max / s.low_freq_factor;
    const double high_wavelen = original_max / s.high_freq_factor;
    for (double& f : out.inv_freq) {
      const double wavelen = 2 * std::numbers::pi / f;
      if (wavelen > low_wavelen) {
        f /= s.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth =
            (original_max / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        f = (1 - smooth) * f / s.factor + smooth * f;
      }
    }
  } else if (s.type == "yarn") {
    // Interpolated (divided by factor) below the correction range, extrapolated (kept) above,
    // a linear ramp between; cos and sin scaled by the attention factor.
    out.attention_scale = s.attention_factor;
    if (out.attention_scale == 0) {
      out.attention_scale =
          s.mscale != 0 && s.mscale_all_dim != 0
              ? yarn_mscale(s.factor, s.mscale) / yarn_mscale(s.factor, s.mscale_all_dim)
              : yarn_mscale(s.factor, 1.0);
    }
    double low = yarn_correction_dim(s.beta_fast, dim, base, original_max);
    double high = yarn_correction_dim(s.beta_slow, dim, base, original_max);
    if (s.truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, dim - 1.0);
    if (low == high) high += 0.001;  // no division by zero
    for (int i = 0; i < half; ++i) {
      double& f = out.inv_freq[static_cast<size_t>(i)];
      const double extrapolation = 1 - std::clamp((i - low) / (high - low), 0.0, 1.0);
      f = f / s.factor * (1 - extrapolation) + f * extrapolation;
    }
  }
  return out;
}

std::vector<float> rope_table(const ModelConfig& c, bool long_factors) {
  const RopeFrequencies r = rope_frequencies(c, long_factors);
  const size_t half = r.inv_freq.size();
  std::vector<float> table(static_cast<size_t>(c.max_position_embeddings) * half * 2);
  for (int pos = 0; pos < c.max_position_embeddings; ++pos) {
    for (size_t i = 0; i < half; ++i) {
      const double angle = pos * r.inv_freq[i];
      table[(static_cast<size_t>(pos) * half + i) * 2] =
          static_cast<float>(r.attention_scale * std::cos(angle));
      table[(static_cast<size_t>(pos) * half + i) * 2 + 1] =
          static_cast<float>(r.attention_scale * std::sin(angle));
    }
  }
  return table;
}

}  // namespace llm
