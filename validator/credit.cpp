#include "credit.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace mw::boinc::credit {
namespace {

constexpr double kSecondsPerDay = 86400;
constexpr double kHalfLife = 7 * 86400;  // recent average credit halves in a week
constexpr double kLn2 = 0.69314718055994530942;

// Sample counts before host / app-version scaling is trusted, and the
// parameters of the host (HAV_*) and app-version (AV_*) moving averages.
constexpr double kMinHostSamples = 10, kMinVersionSamples = 100;
constexpr double kHostThreshold = 20, kHostWeight = .01, kHostLimit = 10;
constexpr double kVersionThreshold = 100, kVersionWeight = .001, kVersionLimit = 10;
constexpr std::int64_t kConsecutiveValidForHostScale = 10;
// A claimed FLOP rate of 0 or less (a scheduler bug) is taken as 10 GFLOPS.
constexpr double kFallbackFlops = 1e10;

enum class Mode { normal, approx, wu_estimate, invalid };

// BOINC spells its credit unit as the macro 200/86400e9, so in the source
// `pfc * unit` reads (pfc * 200) / 86400e9. Debian's libsched is compiled
// with -ffast-math or the like (its code is reassociated; BOINC's configure
// adds -ffast-math with --enable-optimize): there it is one multiplication by
// 200/86400e9 (2.3148148148148147e-12 in the disassembly). The two differ
// in the last bit for some values, which showed as app_version.expavg_credit
// one unit off in its 16th digit (issue 24), so this is the shipped product.
constexpr double kCreditPerFlop = 200 / 86400e9;
double credit_of(double pfc) { return pfc * kCreditPerFlop; }

// The workunit's own estimate, in the app's normalised units.
double wu_estimated_pfc(const WuInfo& wu, const AppInfo& app) {
  double x = wu.rsc_fpops_est;
  if (app.min_avg_pfc != 0) x *= app.min_avg_pfc;
  return x;
}

// A ratio of claimed to estimated FLOPs this far from 1 means a wrong
// rsc_fpops_est, not a fast host: such samples stay out of the statistics.
bool pfc_ratio_plausible(double x) { return !(x > 1e4 || x < 1e-4); }

// The average of `v` weighted by closeness to `anchor`. BOINC's loop sums
// front to back, but Debian's reassociating build of libsched vectorises it:
// even and odd elements are summed apart, the two partial sums are then
// added, and the last element of an odd count comes after them. From four
// elements on (a quorum of three with one host-scaled claim) that order
// shows in the last bit, so it is the order here.
double pegged_average(const std::vector<double>& v, double anchor) {
  if (v.size() == 1) return v[0];
  const double margin = 0.1 * anchor;
  auto weight_of = [&](double x) { return 1.0 / (margin + std::fabs(anchor - x)); };
  double weights[2] = {0, 0}, sums[2] = {0, 0};
  const std::size_t paired = v.size() - v.size() % 2;
  for (std::size_t i = 0; i < paired; ++i) {
    const double w = weight_of(v[i]);
    weights[i % 2] += w;
    sums[i % 2] += w * v[i];
  }
  double weight = weights[1] + weights[0], sum = sums[1] + sums[0];
  if (paired != v.size()) {
    const double w = weight_of(v.back());
    weight += w;
    sum += w * v.back();
  }
  return sum / weight;
}

// A client too old to report elapsed time: the estimate, scaled by the host's
// CPU time history when there is enough of it.
double pfc_from_cpu_time(const Claim& r, const WuInfo& wu, const AppInfo& app, HostAppVersion& hav) {
  if (!r.runtime_outlier) hav.et.add(r.cpu_time / wu.rsc_fpops_est, kHostThreshold, kHostWeight, kHostLimit);
  double pfc = wu_estimated_pfc(wu, app);
  bool scale = !(hav.et.n < kMinHostSamples || hav.et.avg <= 0);
  if (scale && app.host_scale_check && hav.consecutive_valid < kConsecutiveValidForHostScale) scale = false;
  if (scale) pfc *= r.cpu_time / (hav.et.avg * wu.rsc_fpops_est);
  return pfc;
}

// One valid result's claimed peak FLOP count and how much it can be trusted
// (BOINC's get_pfc). Returns false for a result of an unknown app version
// (it then counts for nothing).
bool claimed_pfc(Claim r, const WuInfo& wu, const AppInfo& app, std::map<std::int64_t, AppVersionStats>& versions,
                 double& pfc, Mode& mode) {
  mode = Mode::approx;
  HostAppVersion& hav = *r.hav;
  if (r.app_version_id == 0 || r.device_emulation || hav.host_id == 0) {
    mode = Mode::wu_estimate;
    pfc = wu_estimated_pfc(wu, app);
    return true;
  }
  if (r.elapsed_time < 1e-6) {
    pfc = pfc_from_cpu_time(r, wu, app, hav);
    return true;
  }
  if (r.flops_estimate <= 0) r.flops_estimate = kFallbackFlops;
  const double raw_pfc = r.elapsed_time * r.flops_estimate;
  auto found = versions.find(r.app_version_id);
  AppVersionStats* av = found == versions.end() ? nullptr : &found->second;

  if (r.app_version_id < 0) {
    // Anonymous platform: no version statistics; only the host's own.
    bool scale = !(hav.pfc.n < kMinHostSamples || hav.pfc.avg <= 0);
    if (scale && app.host_scale_check && hav.consecutive_valid < kConsecutiveValidForHostScale) scale = false;
    pfc = scale ? raw_pfc * (app.min_avg_pfc / hav.pfc.avg) : wu_estimated_pfc(wu, app);
  } else {
    if (!av) return false;
    bool scale = !(app.host_scale_check && hav.consecutive_valid < kConsecutiveValidForHostScale);
    if (scale && (hav.pfc.n < kMinHostSamples || hav.pfc.avg == 0)) scale = false;
    if (scale && av->pfc.n < kMinVersionSamples) scale = false;
    if (scale && hav.pfc.avg <= 0) scale = false;
    double host_scale = 0;
    if (scale) {
      host_scale = av->pfc.avg / hav.pfc.avg;
      if (host_scale > 10) host_scale = 10;
    }
    pfc = raw_pfc;
    if (av->pfc_scale != 0) {
      pfc *= av->pfc_scale;
      if (host_scale != 0) {
        pfc *= host_scale;
        mode = Mode::normal;  // both scales known: the trusted case
      }
    } else if (host_scale != 0) {
      pfc *= host_scale;
    }
    const double ratio = raw_pfc / wu.rsc_fpops_est;
    if (!r.runtime_outlier && pfc_ratio_plausible(ratio)) av->pfc_samples.push_back(ratio);
  }

  if (!r.runtime_outlier) {
    const double ratio = raw_pfc / wu.rsc_fpops_est;
    if (pfc_ratio_plausible(ratio)) hav.pfc.add(ratio, kHostThreshold, kHostWeight, kHostLimit);
    hav.et.add(r.elapsed_time / wu.rsc_fpops_est, kHostThreshold, kHostWeight, kHostLimit);
    hav.turnaround.add(r.received_time - r.sent_time, kHostThreshold, kHostWeight, kHostLimit);
  }
  if (av) {
    av->credit_samples.push_back(credit_of(pfc));
    av->credit_times.push_back(r.sent_time);
  }
  return true;
}

}  // namespace

double as_stored(double x) {
  char text[40];
  std::snprintf(text, sizeof text, "%.15e", x);
  return std::strtod(text, nullptr);
}

void Average::add(double sample, double threshold, double weight, double limit) {
  if (sample < 0) return;
  if (n != 0 && avg != 0 && sample > avg * limit) sample = avg * limit;
  n += 1;
  const double delta = sample - avg;
  if (n < threshold)
    avg += delta / n;
  else
    avg += weight * delta;
}

void AverageVar::add(double sample, double threshold, double weight, double limit) {
  if (sample < 0) return;
  if (n != 0 && avg != 0 && sample > avg * limit) sample = avg * limit;
  n += 1;
  const double delta = sample - avg;
  if (n < threshold) {
    avg += delta / n;
    q += delta * (sample - avg);
    var = q / n;
  } else {
    avg += weight * delta;
    var += weight * (delta * delta - var);
  }
}

void update_average(double now, double work_start, double work, double& avg, double& avg_time) {
  if (avg_time != 0) {
    double elapsed = now - avg_time;
    if (elapsed < 0) elapsed = 0;  // another daemon wrote a later time
    const double elapsed_days = elapsed / kSecondsPerDay;
    const double decay = std::exp(-elapsed * kLn2 / kHalfLife);
    avg *= decay;
    if (1.0 - decay > 1e-6)
      avg += (1 - decay) * (work / elapsed_days);
    else  // no time has passed: the limit of the formula above
      avg += kLn2 * work * kSecondsPerDay / kHalfLife;
  } else if (work != 0) {
    // The first credit ever: the rate since the job was sent.
    avg = work / ((now - work_start) / kSecondsPerDay);
  }
  avg_time = now;
}

double next_avg_turnaround(double avg_turnaround, double turnaround) {
  return avg_turnaround == 0 ? turnaround : .7 * avg_turnaround + .3 * turnaround;
}

std::int64_t generalized_app_version_id(std::int64_t app_version_id, std::int64_t app_id) {
  return app_version_id < 0 ? app_id * 1000000 - app_version_id : app_version_id;
}

double assign_credit_set(const WuInfo& wu, const AppInfo& app, std::vector<Claim>& claims,
                         std::map<std::int64_t, AppVersionStats>& versions, double max_granted_credit) {
  std::vector<double> normal, approx;
  for (Claim& r : claims) {
    double pfc = 0;
    Mode mode = Mode::approx;
    if (!claimed_pfc(r, wu, app, versions, pfc, mode)) continue;
    if (pfc > wu.rsc_fpops_bound) pfc = wu_estimated_pfc(wu, app);
    // Above the cap the claim no longer counts (BOINC also resets its PFC,
    // which nothing reads afterwards).
    if (max_granted_credit != 0 && credit_of(pfc) > max_granted_credit) mode = Mode::invalid;
    if (mode == Mode::normal)
      normal.push_back(pfc);
    else if (mode != Mode::invalid)
      approx.push_back(pfc);
  }
  const double anchor = wu_estimated_pfc(wu, app);
  double x;
  if (normal.size() >= 2) {
    x = pegged_average(normal, anchor);
  } else {
    if (normal.size() == 1) {  // a fully scaled claim weighs twice
      approx.push_back(normal[0]);
      approx.push_back(normal[0]);
    }
    x = approx.empty() ? anchor : pegged_average(approx, anchor);
  }
  x *= kCreditPerFlop;
  return x;
}

void add_samples(AppVersionStats& into, const AppVersionStats& from) {
  into.id = from.id;
  into.pfc_samples.insert(into.pfc_samples.end(), from.pfc_samples.begin(), from.pfc_samples.end());
  into.credit_samples.insert(into.credit_samples.end(), from.credit_samples.begin(), from.credit_samples.end());
  into.credit_times.insert(into.credit_times.end(), from.credit_times.begin(), from.credit_times.end());
}

void flush_app_version(AppVersionStats& av, double now) {
  for (double s : av.pfc_samples) av.pfc.add(s, kVersionThreshold, kVersionWeight, kVersionLimit);
  for (std::size_t j = 0; j < av.credit_samples.size(); ++j)
    update_average(now, av.credit_times[j], av.credit_samples[j], av.expavg_credit, av.expavg_time);
  av.pfc_samples.clear();
  av.credit_samples.clear();
  av.credit_times.clear();
}

void count_valid(HostAppVersion& hav, const WuInfo& wu, const AppInfo& app) {
  hav.max_jobs_per_day += 1;
  const bool unreplicated = wu.target_nresults == 1 && app.target_nresults > 1;
  if (!unreplicated) hav.consecutive_valid += 1;
}

void count_invalid(HostAppVersion& hav, int daily_result_quota) {
  hav.consecutive_valid = 0;
  if (hav.max_jobs_per_day > daily_result_quota) hav.max_jobs_per_day -= 1;
}

}  // namespace mw::boinc::credit
