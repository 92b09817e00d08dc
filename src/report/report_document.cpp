#include "octrain/report/report_document.h"

#include <fmt/format.h>

#include <cctype>

namespace octrain::report {
namespace {

std::string escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// HTML of a text with Markdown `code` spans.
std::string inline_html(const std::string& text) {
  std::string out;
  bool code = false;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != '`') continue;
    out += escaped(text.substr(start, i - start));
    if (i < text.size()) out += code ? "</code>" : "<code>";
    code = !code;
    start = i + 1;
  }
  return out;
}

// Numbers (and the dash of a missing value) are right-aligned, text left-aligned.
bool looks_numeric(const std::string& cell) {
  return !cell.empty() && (std::isdigit(static_cast<unsigned char>(cell[0])) || cell[0] == '-' ||
                           cell.rfind("–", 0) == 0);
}

// A Markdown table cell may not contain an unescaped '|'.
std::string cell_markdown(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

}  // namespace

ReportDocument& ReportDocument::heading(int level, const std::string& text) {
  blocks_.push_back({Kind::kHeading, level, {{text}}});
  return *this;
}

ReportDocument& ReportDocument::paragraph(const std::string& text) {
  blocks_.push_back({Kind::kParagraph, 0, {{text}}});
  return *this;
}

ReportDocument& ReportDocument::bullets(const std::vector<std::string>& items) {
  blocks_.push_back({Kind::kBullets, 0, {items}});
  return *this;
}

ReportDocument& ReportDocument::table(const std::vector<std::vector<std::string>>& rows) {
  blocks_.push_back({Kind::kTable, 0, rows});
  return *this;
}

ReportDocument& ReportDocument::figure(const std::string& path, const std::string& caption) {
  blocks_.push_back({Kind::kFigure, 0, {{path, caption}}});
  return *this;
}

std::string ReportDocument::markdown() const {
  std::string md = "# " + title_ + "\n";
  for (const auto& b : blocks_) {
    md += "\n";
    switch (b.kind) {
      case Kind::kHeading:
        md += std::string(size_t(b.level), '#') + " " + b.cells[0][0] + "\n";
        break;
      case Kind::kParagraph:
        md += b.cells[0][0] + "\n";
        break;
      case Kind::kBullets:
        for (const auto& item : b.cells[0]) md += "- " + item + "\n";
        break;
      case Kind::kTable:
        for (size_t r = 0; r < b.cells.size(); ++r) {
          md += "|";
          for (const auto& c : b.cells[r]) md += " " + cell_markdown(c) + " |";
          md += "\n";
          if (r == 0) {
            md += "|";
            for (size_t c = 0; c < b.cells[0].size(); ++c)
              md += b.cells.size() > 1 && c < b.cells[1].size() && looks_numeric(b.cells[1][c])
                        ? "---:|"
                        : "---|";
            md += "\n";
          }
        }
        break;
      case Kind::kFigure:
        md += fmt::format("![{}]({})\n", b.cells[0][1], b.cells[0][0]);
        break;
    }
  }
  return md;
}

std::string ReportDocument::html() const {
  std::string body;
  for (const auto& b : blocks_) {
    switch (b.kind) {
      case Kind::kHeading:
        body += fmt::format("<h{0}>{1}</h{0}>\n", b.level, inline_html(b.cells[0][0]));
        break;
      case Kind::kParagraph:
        body += "<p>" + inline_html(b.cells[0][0]) + "</p>\n";
        break;
      case Kind::kBullets:
        body += "<ul>\n";
        for (const auto& item : b.cells[0]) body += "<li>" + inline_html(item) + "</li>\n";
        body += "</ul>\n";
        break;
      case Kind::kTable:
        body += "<table>\n";
        for (size_t r = 0; r < b.cells.size(); ++r) {
          body += "<tr>";
          for (size_t c = 0; c < b.cells[r].size(); ++c)
            body += fmt::format("<{0}{1}>{2}</{0}>", r == 0 ? "th" : "td",
                                looks_numeric(b.cells[r][c]) ? " class=\"num\"" : "",
                                inline_html(b.cells[r][c]));
          body += "</tr>\n";
        }
        body += "</table>\n";
        break;
      case Kind::kFigure:
        body +=
            fmt::format("<figure><img src=\"{}\" alt=\"{}\"><figcaption>{}</figcaption></figure>\n",
                        escaped(b.cells[0][0]), escaped(b.cells[0][1]), inline_html(b.cells[0][1]));
        break;
    }
  }
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{0}</title>\n"
      "<style>\n"
      "body {{ font-family: sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; "
      "color: #222; }}\n"
      "table {{ border-collapse: collapse; margin: 1em 0; }}\n"
      "th, td {{ border: 1px solid #bbb; padding: 0.3em 0.6em; }}\n"
      "th {{ background: #eee; }}\n"
      "td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}\n"
      "figure {{ margin: 1em 0; }}\n"
      "figure img {{ max-width: 100%; border: 1px solid #ddd; }}\n"
      "code {{ background: #f4f4f4; padding: 0 0.2em; }}\n"
      "</style>\n</head>\n<body>\n<h1>{0}</h1>\n{1}</body>\n</html>\n",
      escaped(title_), body);
}

}  // namespace octrain::report
