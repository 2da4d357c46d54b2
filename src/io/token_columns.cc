#include "io/token_columns.h"

#include <fmt/format.h>

#include <memory>

#include "transform/tokenizer.h"

namespace nightshift::io {
namespace {

using transform::Tokenizer;

// What a registered function needs, owned by the database (the function's
// extra info) for as long as the database lives.
struct TokenizeFunction {
  std::unique_ptr<Tokenizer> tokenizer;
  int64_t max_length = 0;
};

// DuckDB's scalar function body: one list of ids per row; null for a text
// that is not UTF-8 (DuckDB gives nulls for null texts without calling us).
void TokenizeRows(duckdb_function_info info, duckdb_data_chunk input, duckdb_vector output) {
  const TokenizeFunction* fn = static_cast<const std::shared_ptr<TokenizeFunction>*>(
                                   duckdb_scalar_function_get_extra_info(info))
                                   ->get();
  const idx_t rows = duckdb_data_chunk_get_size(input);
  duckdb_vector texts = duckdb_data_chunk_get_vector(input, 0);
  auto* data = static_cast<duckdb_string_t*>(duckdb_vector_get_data(texts));
  uint64_t* validity = duckdb_vector_get_validity(texts);
  auto* entries = static_cast<duckdb_list_entry*>(duckdb_vector_get_data(output));
  std::vector<int64_t> ids;
  idx_t total = 0;
  for (idx_t row = 0; row < rows; ++row) {
    const bool valid = validity == nullptr || duckdb_validity_row_is_valid(validity, row);
    Status s = Status::Ok();
    if (valid) {
      std::string_view text(duckdb_string_t_data(&data[row]), duckdb_string_t_length(data[row]));
      s = fn->tokenizer->Encode(text, fn->max_length, &ids);
    }
    if (!valid || !s.ok()) {
      duckdb_vector_ensure_validity_writable(output);
      duckdb_validity_set_row_invalid(duckdb_vector_get_validity(output), row);
      entries[row] = {total, 0};
      continue;
    }
    duckdb_list_vector_reserve(output, total + ids.size());
    duckdb_vector child = duckdb_list_vector_get_child(output);
    std::copy(ids.begin(), ids.end(), static_cast<int64_t*>(duckdb_vector_get_data(child)) + total);
    entries[row] = {total, ids.size()};
    total += ids.size();
    duckdb_list_vector_set_size(output, total);
  }
}

Result<std::unique_ptr<TokenizeFunction>> LoadStep(const TokenizeSpec& step, size_t i, Env* env) {
  const std::string where =
      fmt::format("preprocess[{}].tokenize.tokenizer '{}'", i, step.tokenizer);
  auto json = env->ReadFile(step.tokenizer);
  if (!json.has_value()) {
    return Error(Code::kInvalidJob, fmt::format("{}: {}", where, json.error().message()));
  }
  auto fn = std::make_unique<TokenizeFunction>();
  NS_ASSIGN_OR_RETURN(fn->tokenizer, Tokenizer::FromFile(*json, step.tokenizer, where));
  fn->max_length = step.max_length > 0 ? step.max_length : fn->tokenizer->truncation_max_length();
  if (fn->max_length > 0 && fn->max_length < fn->tokenizer->special_tokens()) {
    return Error(Code::kInvalidJob,
                 fmt::format("preprocess[{}].tokenize.max_length {} is less than the {} special "
                             "tokens the tokenizer adds",
                             i, fn->max_length, fn->tokenizer->special_tokens()));
  }
  return fn;
}

// Registers `fn` as `name`, taking VARCHAR or BLOB texts.
Status Register(DuckConnection* conn, const std::string& name,
                std::unique_ptr<TokenizeFunction> fn) {
  duckdb_scalar_function_set set = duckdb_create_scalar_function_set(name.c_str());
  std::shared_ptr<TokenizeFunction> shared(std::move(fn));
  for (duckdb_type type : {DUCKDB_TYPE_VARCHAR, DUCKDB_TYPE_BLOB}) {
    duckdb_scalar_function f = duckdb_create_scalar_function();
    duckdb_scalar_function_set_name(f, name.c_str());
    duckdb_logical_type in = duckdb_create_logical_type(type);
    duckdb_logical_type bigint = duckdb_create_logical_type(DUCKDB_TYPE_BIGINT);
    duckdb_logical_type list = duckdb_create_list_type(bigint);
    duckdb_scalar_function_add_parameter(f, in);
    duckdb_scalar_function_set_return_type(f, list);
    duckdb_destroy_logical_type(&in);
    duckdb_destroy_logical_type(&bigint);
    duckdb_destroy_logical_type(&list);
    // Each overload holds a reference: the database destroys them separately.
    duckdb_scalar_function_set_extra_info(
        f, new std::shared_ptr<TokenizeFunction>(shared),
        [](void* p) { delete static_cast<std::shared_ptr<TokenizeFunction>*>(p); });
    duckdb_scalar_function_set_function(f, TokenizeRows);
    duckdb_add_scalar_function_to_set(set, f);
    duckdb_destroy_scalar_function(&f);
  }
  const duckdb_state state = duckdb_register_scalar_function_set(conn->get(), set);
  duckdb_destroy_scalar_function_set(&set);
  if (state != DuckDBSuccess) {
    return Status(Code::kInternal, fmt::format("cannot register the tokenizer function {}", name));
  }
  return Status::Ok();
}

}  // namespace

Status InstallTokenizers(DuckConnection* conn, const std::vector<TokenizeSpec>& steps, Env* env) {
  for (size_t i = 0; i < steps.size(); ++i) {
    NS_ASSIGN_OR_RETURN(std::unique_ptr<TokenizeFunction> fn, LoadStep(steps[i], i, env));
    NS_RETURN_IF_ERROR(Register(conn, fmt::format("ns_tokenize_{}", i), std::move(fn)));
  }
  return Status::Ok();
}

std::string WithTokenColumns(const std::string& relation, const std::vector<TokenizeSpec>& steps) {
  if (steps.empty()) return relation;
  // Two levels, so that each text is tokenized once however many of its
  // columns the job reads: the ids first, then mask and type ids from them.
  std::string ids, derived;
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::string col = QuoteIdent(steps[i].into + ".input_ids");
    ids += fmt::format(", ns_tokenize_{}({}) AS {}", i, QuoteIdent(steps[i].column), col);
    derived += fmt::format(", list_transform({0}, x -> 1::BIGINT) AS {1}", col,
                           QuoteIdent(steps[i].into + ".attention_mask"));
    derived += fmt::format(", list_transform({0}, x -> 0::BIGINT) AS {1}", col,
                           QuoteIdent(steps[i].into + ".token_type_ids"));
  }
  return fmt::format("(SELECT *{} FROM (SELECT *{} FROM {}))", derived, ids, relation);
}

std::string TokenColumnNullReason(const std::vector<TokenizeSpec>& steps,
                                  const std::string& column) {
  for (const auto& s : steps) {
    for (const char* suffix : {".input_ids", ".attention_mask", ".token_type_ids"}) {
      if (column == s.into + suffix) {
        return fmt::format(
            "text column '{}' is null or not valid UTF-8 (preprocess tokenize into "
            "'{}')",
            s.column, s.into);
      }
    }
  }
  return "";
}

}  // namespace nightshift::io
