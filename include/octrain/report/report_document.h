#pragma once

#include <string>
#include <vector>

namespace octrain::report {

// A report as a sequence of blocks that renders to both Markdown and a standalone HTML page, so
// the two never disagree. Text is plain (escaped for HTML; `code` spans in backticks are kept).
class ReportDocument {
 public:
  explicit ReportDocument(std::string title) : title_(std::move(title)) {}

  ReportDocument& heading(int level, const std::string& text);
  ReportDocument& paragraph(const std::string& text);
  ReportDocument& bullets(const std::vector<std::string>& items);
  // The first row is the header; numeric-looking columns are not treated specially.
  ReportDocument& table(const std::vector<std::vector<std::string>>& rows);
  // `path` relative to the document's folder.
  ReportDocument& figure(const std::string& path, const std::string& caption);

  std::string markdown() const;
  std::string html() const;

 private:
  enum class Kind { kHeading, kParagraph, kBullets, kTable, kFigure };
  struct Block {
    Kind kind;
    int level = 0;
    std::vector<std::vector<std::string>> cells;  // one row for paragraph/figure/bullets
  };
  std::string title_;
  std::vector<Block> blocks_;
};

}  // namespace octrain::report
