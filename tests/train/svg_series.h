#pragma once

#include <algorithm>
#include <string>
#include <vector>

// The data series of a gnuplot SVG, to check that a figure shows data, not just that it renders.
// gnuplot wraps each plot element in <g id="gnuplot_plot_N"> whose <title> is the legend text,
// or the id itself for an element without one (in octrain's report figures, which draw their
// data untitled and give the legend as keyentry elements, the keyentries carry no text title
// either: they count as series and pass, as they draw their key sample). A data series that
// draws nothing — a line through a single point, an empty table — is reported as not drawn.
namespace octrain::train::testing {

struct SvgSeries {
  std::string id;
  bool drawn = false;  // a point marker, a filled polygon or a line through two or more points
};

inline bool draws_something(const std::string& group) {
  if (group.find("<use ") != std::string::npos) return true;
  for (size_t at = group.find("<polygon"); at != std::string::npos;
       at = group.find("<polygon", at + 1)) {
    const size_t points = group.find("points", at);
    const size_t end = group.find("/>", at);
    if (points < end &&
        std::count(group.begin() + long(points), group.begin() + long(end), ',') >= 3)
      return true;
  }
  for (size_t at = group.find(" d='"); at != std::string::npos; at = group.find(" d='", at + 1)) {
    const size_t end = group.find('\'', at + 4);
    const std::string d = group.substr(at + 4, end - at - 4);
    if (d.find('L') != std::string::npos) return true;  // a segment: M x,y L x,y
  }
  return false;
}

inline std::vector<SvgSeries> svg_data_series(const std::string& svg) {
  std::vector<SvgSeries> series;
  const std::string open = "<g id=\"gnuplot_plot_";
  for (size_t at = svg.find(open); at != std::string::npos; at = svg.find(open, at + 1)) {
    // The group runs to its matching </g>.
    size_t depth = 0, pos = at, end = svg.size();
    while (pos < svg.size()) {
      const size_t next_open = svg.find("<g", pos), next_close = svg.find("</g>", pos);
      if (next_close == std::string::npos) break;
      if (next_open != std::string::npos && next_open < next_close) {
        ++depth;
        pos = next_open + 2;
      } else {
        pos = next_close + 4;
        if (--depth == 0) {
          end = pos;
          break;
        }
      }
    }
    const std::string group = svg.substr(at, end - at);
    const size_t id_at = open.find('"') + 1;  // after <g id="
    const std::string id = group.substr(id_at, group.find('"', id_at) - id_at);
    const size_t title = group.find("<title>");
    const std::string name = title == std::string::npos
                                 ? id
                                 : group.substr(title + 7, group.find("</title>") - title - 7);
    if (name == id) series.push_back({id, draws_something(group)});
  }
  return series;
}

}  // namespace octrain::train::testing
