// NerfConfig from and to JSON (nerf_config.h). Sources of the defaults:
//  - RAD-NeRF (ashawkey/RAD-NeRF, nerf/network.py, main.py), as GeneFace++ (yerfor/GeneFacePlusPlus,
//    modules/radnerfs/radnerf.py, egs/.../lm3d_radnerf.yaml) uses it: hash grids of 16 levels × 2
//    features, base 16, 2^16 rows; ambient_dim 2 with a 16 × 1 2D grid; sigma net 3 × 64 with a
//    64-d geometric feature; colour net 2 × 64 with SH degree 4 of the view direction; individual
//    codes of 4 (head) and 8 (torso); torso deformation by frequency encodings (multires 8 of the
//    pixel, 4 of the projected anchors); max_steps 16; T_thresh 1e-4; density grid 128³ updated
//    every 16 steps; cond_out_dim 64 and smo_win_size 5 (GeneFace++).
//  - instant-ngp (Müller et al. 2022): EMA decay 0.95 of the density grid, min optical thickness 0.01.
//  - At 256×256 a finest level of 512 cells resolves a pixel of the face box (issue 8).
#include "emogene/render/nerf_config.h"

#include <cmath>
#include <set>

#include "emogene/core/error.h"

namespace emogene::render {

namespace {

void refuse_unknown(const nlohmann::json& j, const std::set<std::string>& known, const std::string& where,
                    const std::string& section) {
  if (j.is_null()) return;
  check_input(j.is_object(), where, "nerf config '" + section + "' must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key()))
      throw bad_input(where, "unknown nerf setting '" + (section.empty() ? "" : section + ".") + it.key() + "'");
}

template <typename T>
void get(const nlohmann::json& j, const char* key, T& v, const std::string& where, const std::string& section) {
  if (j.is_null() || !j.contains(key)) return;
  try {
    v = j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw bad_input(where, "nerf setting '" + section + "." + key + "' has the wrong type");
  }
}

void get_vec3(const nlohmann::json& j, const char* key, std::array<double, 3>& v, const std::string& where,
              const std::string& section) {
  if (j.is_null() || !j.contains(key)) return;
  const auto& a = j.at(key);
  check_input(a.is_array() && a.size() == 3, where, "nerf setting '" + section + "." + key + "' must be [x, y, z]");
  for (std::size_t i = 0; i < 3; ++i) {
    check_input(a[i].is_number(), where, "nerf setting '" + section + "." + key + "' must hold numbers");
    v[i] = a[i].get<double>();
  }
}

void positive(std::int64_t v, const std::string& where, const std::string& key, std::int64_t lo = 1) {
  check_input(v >= lo, where, "nerf setting '" + key + "' must be ≥ " + std::to_string(lo));
}

HashGridConfig grid_from(const nlohmann::json& j, const char* key, HashGridConfig def, const std::string& where,
                         const std::string& section) {
  if (j.is_null() || !j.contains(key)) return def;
  nlohmann::json merged = def.to_json();
  merged.merge_patch(j.at(key));
  HashGridConfig g = HashGridConfig::from_json(merged, where + " (" + section + "." + key + ")");
  check_input(g.input_dims == def.input_dims, where,
              "nerf setting '" + section + "." + key + ".input_dims' must be " + std::to_string(def.input_dims));
  return g;
}

}  // namespace

NerfConfig NerfConfig::from_json(const nlohmann::json& j, const std::string& where) {
  NerfConfig c;
  if (j.is_null()) return c;
  refuse_unknown(j, {"box_min", "box_max", "condition", "head", "torso", "occupancy", "march", "frames"}, where,
                 "");
  get_vec3(j, "box_min", c.box_min, where, "");
  get_vec3(j, "box_max", c.box_max, where, "");
  get(j, "frames", c.frames, where, "");
  for (int i = 0; i < 3; ++i)
    check_input(c.box_max[static_cast<std::size_t>(i)] > c.box_min[static_cast<std::size_t>(i)], where,
                "nerf box_max must exceed box_min on every axis");
  positive(c.frames, where, "frames");

  const nlohmann::json& cj = j.contains("condition") ? j.at("condition") : nlohmann::json();
  refuse_unknown(cj, {"hidden", "dims", "window", "eyes"}, where, "condition");
  get(cj, "hidden", c.condition.hidden, where, "condition");
  get(cj, "dims", c.condition.dims, where, "condition");
  get(cj, "window", c.condition.window, where, "condition");
  get(cj, "eyes", c.condition.eyes, where, "condition");
  positive(c.condition.hidden, where, "condition.hidden");
  positive(c.condition.dims, where, "condition.dims");
  check_input(c.condition.window >= 1 && c.condition.window % 2 == 1 && c.condition.window <= 33, where,
              "nerf setting 'condition.window' must be odd, 1..33");

  const nlohmann::json& hj = j.contains("head") ? j.at("head") : nlohmann::json();
  refuse_unknown(hj,
                 {"grid", "ambient_dims", "ambient_grid", "ambient_hidden", "ambient_layers", "sigma_hidden", "sigma_layers",
                  "geo_features", "color_hidden", "color_layers", "sh_degree", "latent_dims"},
                 where, "head");
  HeadConfig& h = c.head;
  h.grid = grid_from(hj, "grid", h.grid, where, "head");
  get(hj, "ambient_dims", h.ambient_dims, where, "head");
  get(hj, "ambient_hidden", h.ambient_hidden, where, "head");
  get(hj, "ambient_layers", h.ambient_layers, where, "head");
  get(hj, "sigma_hidden", h.sigma_hidden, where, "head");
  get(hj, "sigma_layers", h.sigma_layers, where, "head");
  get(hj, "geo_features", h.geo_features, where, "head");
  get(hj, "color_hidden", h.color_hidden, where, "head");
  get(hj, "color_layers", h.color_layers, where, "head");
  get(hj, "sh_degree", h.sh_degree, where, "head");
  get(hj, "latent_dims", h.latent_dims, where, "head");
  check_input(h.ambient_dims == 2 || h.ambient_dims == 3, where, "nerf setting 'head.ambient_dims' must be 2 or 3");
  HashGridConfig amb_def = h.ambient_grid;
  amb_def.input_dims = h.ambient_dims;
  h.ambient_grid = grid_from(hj, "ambient_grid", amb_def, where, "head");
  positive(h.ambient_hidden, where, "head.ambient_hidden");
  positive(h.ambient_layers, where, "head.ambient_layers");
  positive(h.sigma_hidden, where, "head.sigma_hidden");
  positive(h.sigma_layers, where, "head.sigma_layers");
  positive(h.geo_features, where, "head.geo_features");
  positive(h.color_hidden, where, "head.color_hidden");
  positive(h.color_layers, where, "head.color_layers");
  check_input(h.sh_degree >= 1 && h.sh_degree <= 4, where, "nerf setting 'head.sh_degree' must be 1..4");
  positive(h.latent_dims, where, "head.latent_dims", 0);

  const nlohmann::json& tj = j.contains("torso") ? j.at("torso") : nlohmann::json();
  refuse_unknown(tj,
                 {"enabled", "grid", "coord_freqs", "pose_freqs", "deform_hidden", "deform_layers", "hidden", "layers",
                  "latent_dims", "anchors"},
                 where, "torso");
  TorsoConfig& t = c.torso;
  get(tj, "enabled", t.enabled, where, "torso");
  t.grid = grid_from(tj, "grid", t.grid, where, "torso");
  get(tj, "coord_freqs", t.coord_freqs, where, "torso");
  get(tj, "pose_freqs", t.pose_freqs, where, "torso");
  get(tj, "deform_hidden", t.deform_hidden, where, "torso");
  get(tj, "deform_layers", t.deform_layers, where, "torso");
  get(tj, "hidden", t.hidden, where, "torso");
  get(tj, "layers", t.layers, where, "torso");
  get(tj, "latent_dims", t.latent_dims, where, "torso");
  if (!tj.is_null() && tj.contains("anchors")) {
    const auto& a = tj.at("anchors");
    check_input(a.is_array() && !a.empty() && a.size() <= 16, where, "nerf setting 'torso.anchors' must list 1..16 points");
    t.anchors.clear();
    for (const auto& p : a) {
      check_input(p.is_array() && p.size() == 3 && p[0].is_number() && p[1].is_number() && p[2].is_number(), where,
                  "nerf setting 'torso.anchors' must hold [x, y, z] points");
      t.anchors.push_back({p[0].get<double>(), p[1].get<double>(), p[2].get<double>()});
    }
  }
  positive(t.coord_freqs, where, "torso.coord_freqs", 0);
  positive(t.pose_freqs, where, "torso.pose_freqs", 0);
  positive(t.deform_hidden, where, "torso.deform_hidden");
  positive(t.deform_layers, where, "torso.deform_layers");
  positive(t.hidden, where, "torso.hidden");
  positive(t.layers, where, "torso.layers");
  positive(t.latent_dims, where, "torso.latent_dims", 0);

  const nlohmann::json& oj = j.contains("occupancy") ? j.at("occupancy") : nlohmann::json();
  refuse_unknown(oj, {"resolution", "decay", "min_optical_thickness", "update_every", "update_cells"}, where, "occupancy");
  get(oj, "resolution", c.occupancy.resolution, where, "occupancy");
  get(oj, "decay", c.occupancy.decay, where, "occupancy");
  get(oj, "min_optical_thickness", c.occupancy.min_optical_thickness, where, "occupancy");
  get(oj, "update_every", c.occupancy.update_every, where, "occupancy");
  get(oj, "update_cells", c.occupancy.update_cells, where, "occupancy");
  check_input(c.occupancy.resolution >= 1 && c.occupancy.resolution <= 512, where,
              "nerf setting 'occupancy.resolution' must be 1..512");
  check_input(c.occupancy.decay > 0 && c.occupancy.decay <= 1, where, "nerf setting 'occupancy.decay' must be in (0, 1]");
  check_input(c.occupancy.min_optical_thickness >= 0, where, "nerf setting 'occupancy.min_optical_thickness' must be ≥ 0");
  positive(c.occupancy.update_every, where, "occupancy.update_every");
  positive(c.occupancy.update_cells, where, "occupancy.update_cells");

  const nlohmann::json& mj = j.contains("march") ? j.at("march") : nlohmann::json();
  refuse_unknown(mj, {"samples_per_ray", "min_transmittance"}, where, "march");
  get(mj, "samples_per_ray", c.march.samples_per_ray, where, "march");
  get(mj, "min_transmittance", c.march.min_transmittance, where, "march");
  check_input(c.march.samples_per_ray >= 1 && c.march.samples_per_ray <= 4096, where,
              "nerf setting 'march.samples_per_ray' must be 1..4096");
  check_input(c.march.min_transmittance >= 0 && c.march.min_transmittance < 1, where,
              "nerf setting 'march.min_transmittance' must be in [0, 1)");
  return c;
}

nlohmann::json NerfConfig::to_json() const {
  nlohmann::json anchors = nlohmann::json::array();
  for (const auto& a : torso.anchors) anchors.push_back({a[0], a[1], a[2]});
  return {{"box_min", box_min},
          {"box_max", box_max},
          {"frames", frames},
          {"condition", {{"hidden", condition.hidden}, {"dims", condition.dims}, {"window", condition.window}, {"eyes", condition.eyes}}},
          {"head",
           {{"grid", head.grid.to_json()},
            {"ambient_dims", head.ambient_dims},
            {"ambient_grid", head.ambient_grid.to_json()},
            {"ambient_hidden", head.ambient_hidden},
            {"ambient_layers", head.ambient_layers},
            {"sigma_hidden", head.sigma_hidden},
            {"sigma_layers", head.sigma_layers},
            {"geo_features", head.geo_features},
            {"color_hidden", head.color_hidden},
            {"color_layers", head.color_layers},
            {"sh_degree", head.sh_degree},
            {"latent_dims", head.latent_dims}}},
          {"torso",
           {{"enabled", torso.enabled},
            {"grid", torso.grid.to_json()},
            {"coord_freqs", torso.coord_freqs},
            {"pose_freqs", torso.pose_freqs},
            {"deform_hidden", torso.deform_hidden},
            {"deform_layers", torso.deform_layers},
            {"hidden", torso.hidden},
            {"layers", torso.layers},
            {"latent_dims", torso.latent_dims},
            {"anchors", anchors}}},
          {"occupancy",
           {{"resolution", occupancy.resolution},
            {"decay", occupancy.decay},
            {"min_optical_thickness", occupancy.min_optical_thickness},
            {"update_every", occupancy.update_every},
            {"update_cells", occupancy.update_cells}}},
          {"march", {{"samples_per_ray", march.samples_per_ray}, {"min_transmittance", march.min_transmittance}}}};
}

double NerfConfig::step() const {
  double d2 = 0;
  for (std::size_t i = 0; i < 3; ++i) d2 += (box_max[i] - box_min[i]) * (box_max[i] - box_min[i]);
  return std::sqrt(d2) / static_cast<double>(march.samples_per_ray);
}

}  // namespace emogene::render
