# Finds nightshift's dependencies. ONNX Runtime and DuckDB come from
# scripts/bootstrap.sh (third_party/) unless ONNXRUNTIME_ROOT / DUCKDB_ROOT
# point at a user's own build with the usual include/ + lib/ layout.
set(ONNXRUNTIME_ROOT "${PROJECT_SOURCE_DIR}/third_party/onnxruntime" CACHE PATH "ONNX Runtime root (include/, lib/)")
set(DUCKDB_ROOT "${PROJECT_SOURCE_DIR}/third_party/duckdb" CACHE PATH "DuckDB root (include/, lib/)")

find_library(ONNXRUNTIME_LIBRARY NAMES onnxruntime libonnxruntime.so.1 PATHS "${ONNXRUNTIME_ROOT}/lib" NO_DEFAULT_PATH)
find_path(ONNXRUNTIME_INCLUDE_DIR onnxruntime_cxx_api.h PATHS "${ONNXRUNTIME_ROOT}/include" "${ONNXRUNTIME_ROOT}/include/onnxruntime" NO_DEFAULT_PATH)
if(NOT ONNXRUNTIME_LIBRARY OR NOT ONNXRUNTIME_INCLUDE_DIR)
  message(FATAL_ERROR "ONNX Runtime not found under ONNXRUNTIME_ROOT=${ONNXRUNTIME_ROOT}; run scripts/bootstrap.sh")
endif()
add_library(onnxruntime::onnxruntime SHARED IMPORTED)
set_target_properties(onnxruntime::onnxruntime PROPERTIES
  IMPORTED_LOCATION "${ONNXRUNTIME_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${ONNXRUNTIME_INCLUDE_DIR}")

find_library(DUCKDB_LIBRARY NAMES duckdb PATHS "${DUCKDB_ROOT}/lib" NO_DEFAULT_PATH)
find_path(DUCKDB_INCLUDE_DIR duckdb.h PATHS "${DUCKDB_ROOT}/include" NO_DEFAULT_PATH)
if(NOT DUCKDB_LIBRARY OR NOT DUCKDB_INCLUDE_DIR)
  message(FATAL_ERROR "DuckDB not found under DUCKDB_ROOT=${DUCKDB_ROOT}; run scripts/bootstrap.sh")
endif()
add_library(duckdb::duckdb SHARED IMPORTED)
set_target_properties(duckdb::duckdb PROPERTIES
  IMPORTED_LOCATION "${DUCKDB_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${DUCKDB_INCLUDE_DIR}")

find_package(Threads REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(PostgreSQL REQUIRED)  # libpq: the postgres sink
find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json REQUIRED)
# Time zones for schedules (Debian: libhowardhinnant-date-dev, libdate-tz3, tzdata).
find_package(date REQUIRED)
# --metrics-port (Debian: prometheus-cpp-dev: core + pull, which serves HTTP with civetweb).
find_package(prometheus-cpp CONFIG REQUIRED)
# Dagster Pipes' context is zlib-compressed (Debian: zlib1g-dev).
find_package(ZLIB REQUIRED)
if(NIGHTSHIFT_WITH_TESTS)
  find_package(GTest REQUIRED)
endif()
# Image codecs for `preprocess: image` (Debian: libturbojpeg0-dev, libjpeg62-turbo-dev, libpng-dev,
# libwebp-dev), through their pkg-config files.
find_package(PkgConfig REQUIRED)
pkg_check_modules(TURBOJPEG REQUIRED IMPORTED_TARGET libturbojpeg)
pkg_check_modules(LIBJPEG REQUIRED IMPORTED_TARGET libjpeg)  # cropped decodes (jpeg_window.cc)
pkg_check_modules(LIBPNG REQUIRED IMPORTED_TARGET libpng)
pkg_check_modules(LIBWEBP REQUIRED IMPORTED_TARGET libwebp)
pkg_check_modules(LIBWEBPDEMUX REQUIRED IMPORTED_TARGET libwebpdemux)  # animated WebP
pkg_check_modules(POPPLER_CPP REQUIRED IMPORTED_TARGET poppler-cpp)  # preprocess: pdf_pages

# Unicode tables for tokenization (Debian: libutf8proc-dev).
find_path(UTF8PROC_INCLUDE_DIR utf8proc.h)
find_library(UTF8PROC_LIBRARY NAMES utf8proc)
if(NOT UTF8PROC_INCLUDE_DIR OR NOT UTF8PROC_LIBRARY)
  message(FATAL_ERROR "utf8proc not found; run scripts/bootstrap.sh (libutf8proc-dev)")
endif()
add_library(utf8proc::utf8proc UNKNOWN IMPORTED)
set_target_properties(utf8proc::utf8proc PROPERTIES
  IMPORTED_LOCATION "${UTF8PROC_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${UTF8PROC_INCLUDE_DIR}")
