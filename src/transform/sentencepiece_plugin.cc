// The sentencepiece module (libnightshift_sentencepiece.so): the only code
// linked with libsentencepiece. See sentencepiece_model.h for why.
#include <fmt/format.h>
#include <sentencepiece_processor.h>

#include "transform/sentencepiece_model.h"

namespace nightshift::transform {
namespace {

// XLM-R's fairseq numbering, as Hugging Face's XLMRobertaTokenizer has it.
constexpr int64_t kBos = 0, kEos = 2, kUnk = 3;

// A serialized ModelProto followed by a second normalizer_spec (field 3)
// that sets add_dummy_prefix (3) and remove_extra_whitespaces (4) to false.
// Protobuf merges a repeated message field into the first, so the model
// loads as the file's with those two switched off (the header gives no
// access to the proto's fields themselves).
std::string KeepingSpaces(std::string_view model) {
  std::string out(model);
  out += std::string("\x1a\x04\x18\x00\x20\x00", 6);
  return out;
}

// Reads a protobuf varint at `*i`; false past the end.
bool ReadVarint(std::string_view b, size_t* i, uint64_t* v) {
  *v = 0;
  for (int shift = 0; *i < b.size() && shift < 64; shift += 7) {
    const auto byte = static_cast<unsigned char>(b[(*i)++]);
    *v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return true;
  }
  return false;
}

// The value of varint field `field` in the message `b` (the last one
// written, as protobuf reads it), or `otherwise`. With `into` set, looks
// instead inside the message field `into`.
uint64_t VarintField(std::string_view b, uint64_t field, uint64_t otherwise, uint64_t into = 0) {
  uint64_t found = otherwise;
  for (size_t i = 0; i < b.size();) {
    uint64_t key = 0, v = 0;
    if (!ReadVarint(b, &i, &key)) break;
    const uint64_t wire = key & 7;
    if (wire == 0) {
      if (!ReadVarint(b, &i, &v)) break;
      if (into == 0 && key >> 3 == field) found = v;
    } else if (wire == 2) {
      if (!ReadVarint(b, &i, &v) || v > b.size() - i) break;
      if (into != 0 && key >> 3 == into) found = VarintField(b.substr(i, v), field, found);
      i += v;
    } else if (wire == 1 || wire == 5) {
      i += wire == 1 ? 8 : 4;
    } else {
      break;
    }
  }
  return found;
}

// ModelProto.trainer_spec (2) .model_type (3): UNIGRAM is 1, the default.
constexpr uint64_t kTrainerSpec = 2, kModelType = 3, kUnigram = 1;

// libsentencepiece's processor with XLM-R's ids (see sentencepiece_model.h).
class SpmModel final : public SentencePieceModel {
 public:
  static Result<std::unique_ptr<SpmModel>> Load(std::string_view bytes, const std::string& where);
  void Encode(std::string_view text, std::vector<int64_t>* ids) const override;
  int64_t vocab_size() const override { return vocab_size_; }

 private:
  int64_t ToXlmrId(int spm_id) const;

  // `sp_` as the file says: strips and collapses whitespace. `keep_spaces_`:
  // the same model told to keep every space, used only to ask whether a
  // text's end normalizes to whitespace.
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> keep_spaces_;
  int64_t vocab_size_ = 0;
  int64_t space_id_ = 0;  // the id of the piece "▁" alone (or <unk>)
};

Result<std::unique_ptr<SpmModel>> SpmModel::Load(std::string_view bytes, const std::string& where) {
  auto m = std::make_unique<SpmModel>();
  m->sp_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  m->keep_spaces_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  auto s = m->sp_->LoadFromSerializedProto(bytes);
  if (s.ok()) s = m->keep_spaces_->LoadFromSerializedProto(KeepingSpaces(bytes));
  if (!s.ok()) {
    return Error(
        Code::kInvalidJob,
        fmt::format("{}: not a SentencePiece model (libsentencepiece: {})", where, s.message()));
  }
  // Hugging Face converts only Unigram models to the same algorithm (a BPE
  // .model becomes its BPE, which splits differently): refuse the others.
  if (const uint64_t type = VarintField(bytes, kModelType, kUnigram, kTrainerSpec);
      type != kUnigram) {
    return Error(Code::kInvalidJob,
                 fmt::format("{}: nightshift reads Unigram SentencePiece models (XLM-R's kind); "
                             "this one is of model_type {} (2: BPE, 3: word, 4: char)",
                             where, type));
  }
  const auto& sp = *m->sp_;
  if (sp.unk_id() != 0 || sp.bos_id() != 1 || sp.eos_id() != 2) {
    return Error(Code::kInvalidJob,
                 fmt::format("{}: nightshift reads SentencePiece models numbered as XLM-R's "
                             "(<unk>=0, <s>=1, </s>=2); this one has <unk>={}, <s>={}, </s>={}",
                             where, sp.unk_id(), sp.bos_id(), sp.eos_id()));
  }
  // SentencePiece's ids 0-2 become 3, 0 and 2; <pad> (1) is new, so every
  // other piece moves up by one, and <mask> comes after the last.
  m->vocab_size_ = sp.GetPieceSize() + 2;
  m->space_id_ = m->ToXlmrId(sp.PieceToId("\xe2\x96\x81"));
  return m;
}

int64_t SpmModel::ToXlmrId(int spm_id) const {
  if (spm_id == 0) return kUnk;
  if (spm_id == 1) return kBos;
  if (spm_id == 2) return kEos;
  return spm_id + 1;
}

// SentencePiece drops whitespace at the end of a text; Hugging Face's
// converted tokenizer (Metaspace pre-tokenizer after the same character
// map) keeps it as one last "▁" piece. So when what is left after the last
// piece normalizes to anything (it can only be spaces), that piece is added.
void SpmModel::Encode(std::string_view text, std::vector<int64_t>* ids) const {
  thread_local sentencepiece::ImmutableSentencePieceText spt;
  thread_local std::vector<int> tail;
  if (text.empty()) return;
  sp_->Encode(text, spt.mutable_proto()).IgnoreError();  // fails only on a model not loaded
  const size_t n = spt.pieces_size();
  for (size_t i = 0; i < n; ++i) ids->push_back(ToXlmrId(static_cast<int>(spt.pieces(i).id())));
  const size_t end = n == 0 ? 0 : spt.pieces(static_cast<int>(n - 1)).end();
  if (end >= text.size()) return;
  keep_spaces_->Encode(text.substr(end), &tail).IgnoreError();
  if (!tail.empty()) ids->push_back(space_id_);
}

}  // namespace
}  // namespace nightshift::transform

extern "C" __attribute__((visibility("default"))) nightshift::transform::SentencePieceModel*
nightshift_load_sentencepiece(const char* bytes, size_t size, const std::string* where,
                              nightshift::Status* error) {
  auto m = nightshift::transform::SpmModel::Load(std::string_view(bytes, size), *where);
  if (!m.has_value()) {
    *error = m.error();
    return nullptr;
  }
  return m->release();
}
