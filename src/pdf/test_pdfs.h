// PDFs written by hand for the pdf tests: valid, tiny, and as many pages as
// asked for (none included), without a PDF library.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace nightshift::pdf {

// A minimal valid PDF of `pages` pages of `w` x `h` points, each with a black
// square in its lower left corner (1/4 of the page's width).
inline std::string MakePdf(int pages, int w = 72, int h = 144) {
  std::vector<std::string> objs;
  std::string kids;
  for (int i = 0; i < pages; ++i) kids += std::to_string(3 + 2 * i) + " 0 R ";
  objs.push_back("<< /Type /Catalog /Pages 2 0 R >>");
  objs.push_back("<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(pages) + " >>");
  const std::string draw =
      "0 0 0 rg 0 0 " + std::to_string(w / 4) + " " + std::to_string(w / 4) + " re f";
  for (int i = 0; i < pages; ++i) {
    objs.push_back("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 " + std::to_string(w) + " " +
                   std::to_string(h) + "] /Contents " + std::to_string(4 + 2 * i) + " 0 R >>");
    objs.push_back("<< /Length " + std::to_string(draw.size()) + " >>\nstream\n" + draw +
                   "\nendstream");
  }
  std::string out = "%PDF-1.4\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objs.size(); ++i) {
    offsets.push_back(out.size());
    out += std::to_string(i + 1) + " 0 obj\n" + objs[i] + "\nendobj\n";
  }
  const size_t xref = out.size();
  out += "xref\n0 " + std::to_string(objs.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t o : offsets) {
    char line[24];
    std::snprintf(line, sizeof line, "%010zu 00000 n \n", o);
    out += line;
  }
  out += "trailer\n<< /Size " + std::to_string(objs.size() + 1) + " /Root 1 0 R >>\nstartxref\n" +
         std::to_string(xref) + "\n%%EOF\n";
  return out;
}

}  // namespace nightshift::pdf
