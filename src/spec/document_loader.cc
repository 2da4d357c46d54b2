#include "spec/document_loader.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>

#include <sstream>

#include "spec/node_reader.h"

namespace nightshift::spec {
namespace {

// Records where a document's root is a bare null (an empty document, `~`, or
// a token yaml-cpp could not place, such as a stray ',').
class RootRecorder final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override { depth_ = 0; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override {
    if (depth_ == 0) null_root_ = mark;
  }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    ++depth_;
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    ++depth_;
  }
  void OnMapEnd() override { --depth_; }

  const YAML::Mark& null_root() const { return null_root_; }

 private:
  int depth_ = 0;
  YAML::Mark null_root_ = YAML::Mark::null_mark();
};

Status ParseError(const YAML::Exception& e, const std::string& file) {
  if (e.mark.is_null()) {
    return Status(Code::kInvalidJob, fmt::format("{}: invalid YAML: {}", file, e.msg));
  }
  return Status(Code::kInvalidJob, fmt::format("{}:{}:{}: invalid YAML: {}", file, e.mark.line + 1,
                                               e.mark.column + 1, e.msg));
}

}  // namespace

Result<YAML::Node> LoadJobDocument(const std::string& text, const std::string& file) {
  YAML::Node root;
  int documents = 0;
  RootRecorder recorder;
  try {
    root = YAML::Load(text);
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    // At most two calls: enough to tell "one document" from "more".
    while (documents < 2 && parser.HandleNextDocument(recorder)) ++documents;
  } catch (const YAML::Exception& e) {
    return Error(ParseError(e, file));
  }
  if (root.IsMap() && documents > 1) {
    return Error(
        Code::kInvalidJob,
        fmt::format("{}: holds more than one YAML document ('---'); a job file holds one", file));
  }
  if (root.IsMap()) return root;
  if (!root.IsNull() && root.IsDefined()) {
    return Error(Code::kInvalidJob,
                 fmt::format("{}: expected a mapping of keys (name, input, model, ...), got {}",
                             file, NodeReader::Describe(root)));
  }
  const YAML::Mark& mark = recorder.null_root();
  if (documents == 0 || mark.is_null() || mark.pos < 0 ||
      static_cast<size_t>(mark.pos) >= text.size()) {
    return Error(Code::kInvalidJob, fmt::format("{}: the job file is empty", file));
  }
  return Error(Code::kInvalidJob,
               fmt::format("{}:{}:{}: expected a mapping of keys (name, input, model, ...), "
                           "found '{}'",
                           file, mark.line + 1, mark.column + 1, text[mark.pos]));
}

}  // namespace nightshift::spec
