// The sentencepiece module (libnightshift_sentencepiece.so): the only code
// linked with libsentencepiece. It checks a `.model` file and reads its
// pieces, scores and normalization rules; see sentencepiece_model.h for why
// nothing more.
#include <fmt/format.h>
#include <sentencepiece_processor.h>

#include "transform/sentencepiece_model.h"

namespace nightshift::transform {
namespace {

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

// Calls `f(field, value, bytes)` for every varint (`bytes` empty) and
// length-delimited (`value` 0) field of the message `b`, in file order;
// stops where the message is broken (libsentencepiece has checked it).
template <typename F>
void ForEachField(std::string_view b, F&& f) {
  for (size_t i = 0; i < b.size();) {
    uint64_t key = 0, v = 0;
    if (!ReadVarint(b, &i, &key)) return;
    const uint64_t wire = key & 7;
    if (wire == 0) {
      if (!ReadVarint(b, &i, &v)) return;
      f(key >> 3, v, std::string_view());
    } else if (wire == 2) {
      if (!ReadVarint(b, &i, &v) || v > b.size() - i) return;
      f(key >> 3, uint64_t{0}, b.substr(i, v));
      i += v;
    } else if (wire == 1 || wire == 5) {
      i += wire == 1 ? 8 : 4;
    } else {
      return;
    }
  }
}

// The varint field `field` of the message field `into` of `b` (the last
// one written, as protobuf reads it), or `otherwise`.
uint64_t VarintField(std::string_view b, uint64_t into, uint64_t field, uint64_t otherwise) {
  uint64_t found = otherwise;
  ForEachField(b, [&](uint64_t outer, uint64_t, std::string_view message) {
    if (outer != into) return;
    ForEachField(message, [&](uint64_t inner, uint64_t v, std::string_view bytes) {
      if (inner == field && bytes.empty()) found = v;
    });
  });
  return found;
}

// The same for a length-delimited field, or empty.
std::string_view BytesField(std::string_view b, uint64_t into, uint64_t field) {
  std::string_view found;
  ForEachField(b, [&](uint64_t outer, uint64_t, std::string_view message) {
    if (outer != into) return;
    ForEachField(message, [&](uint64_t inner, uint64_t, std::string_view bytes) {
      if (inner == field && !bytes.empty()) found = bytes;
    });
  });
  return found;
}

// ModelProto.trainer_spec (2) .model_type (3): UNIGRAM is 1, the default.
constexpr uint64_t kTrainerSpec = 2, kModelType = 3, kUnigram = 1;

// ModelProto.normalizer_spec (3) .precompiled_charsmap (2).
constexpr uint64_t kNormalizerSpec = 3, kPrecompiledCharsmap = 2;

// Checks the model with libsentencepiece and reads what nightshift needs.
Status Read(std::string_view bytes, const std::string& where, SentencePieceContents* out) {
  sentencepiece::SentencePieceProcessor sp;
  if (auto s = sp.LoadFromSerializedProto(bytes); !s.ok()) {
    return Status(
        Code::kInvalidJob,
        fmt::format("{}: not a SentencePiece model (libsentencepiece: {})", where, s.message()));
  }
  // Hugging Face converts only Unigram models to the same algorithm (a BPE
  // .model becomes its BPE, which splits differently): refuse the others.
  if (const uint64_t type = VarintField(bytes, kTrainerSpec, kModelType, kUnigram);
      type != kUnigram) {
    return Status(Code::kInvalidJob,
                  fmt::format("{}: nightshift reads Unigram SentencePiece models (XLM-R's kind); "
                              "this one is of model_type {} (2: BPE, 3: word, 4: char)",
                              where, type));
  }
  if (sp.unk_id() != 0 || sp.bos_id() != 1 || sp.eos_id() != 2) {
    return Status(Code::kInvalidJob,
                  fmt::format("{}: nightshift reads SentencePiece models numbered as XLM-R's "
                              "(<unk>=0, <s>=1, </s>=2); this one has <unk>={}, <s>={}, </s>={}",
                              where, sp.unk_id(), sp.bos_id(), sp.eos_id()));
  }
  const int n = sp.GetPieceSize();
  out->pieces.resize(static_cast<size_t>(n));
  out->scores.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    out->pieces[static_cast<size_t>(i)] = sp.IdToPiece(i);
    out->scores[static_cast<size_t>(i)] = sp.GetScore(i);
  }
  out->precompiled_charsmap = BytesField(bytes, kNormalizerSpec, kPrecompiledCharsmap);
  return Status::Ok();
}

}  // namespace
}  // namespace nightshift::transform

extern "C" __attribute__((visibility("default"))) bool nightshift_read_sentencepiece(
    const char* bytes, size_t size, const std::string* where,
    nightshift::transform::SentencePieceContents* out, nightshift::Status* error) {
  *error = nightshift::transform::Read(std::string_view(bytes, size), *where, out);
  return error->ok();
}
