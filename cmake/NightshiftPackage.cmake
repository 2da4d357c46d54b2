# Installing nightshift (`cmake --install`, `make install PREFIX=...`) and its
# Debian packages (`make package`, CPack).
#
# Layout under the prefix, relocatable (every RPATH is $ORIGIN-relative):
#   bin/nightshift
#   lib/nightshift/libonnxruntime.so.1, libduckdb.so     (bundled: not in Debian 12)
#   lib/nightshift/libnightshift_<backend>.so            (optional backend modules)
# The binary looks for backend modules next to itself, then in ../lib/nightshift.
#
# Packages (one per component, so an ONNX-only install never pulls libtorch):
#   nightshift_<version>_amd64.deb               the binary, ONNX Runtime, DuckDB
#   nightshift-torchscript_<version>_amd64.deb   the TorchScript module (depends on libtorch)
#   nightshift-xgboost_<version>_amd64.deb       the XGBoost module (depends on libxgboost)
set(NS_INSTALL_LIBDIR "lib/nightshift")

set_target_properties(nightshift PROPERTIES INSTALL_RPATH "\$ORIGIN/../${NS_INSTALL_LIBDIR}"
                                            INSTALL_RPATH_USE_LINK_PATH OFF)
install(TARGETS nightshift RUNTIME DESTINATION bin COMPONENT nightshift)

# The bundled libraries, under the names the binary asks for (its NEEDED entries).
function(ns_install_bundled library soname)
  get_filename_component(real "${library}" REALPATH)
  install(FILES "${real}" DESTINATION ${NS_INSTALL_LIBDIR} RENAME ${soname} COMPONENT nightshift)
endfunction()
ns_install_bundled("${ONNXRUNTIME_LIBRARY}" libonnxruntime.so.1)
ns_install_bundled("${DUCKDB_LIBRARY}" libduckdb.so)

foreach(module ${NS_BACKEND_MODULES})
  string(REGEX REPLACE "^nightshift_" "" backend ${module})
  set_target_properties(${module} PROPERTIES INSTALL_RPATH "\$ORIGIN"
                                             INSTALL_RPATH_USE_LINK_PATH OFF)
  install(TARGETS ${module} LIBRARY DESTINATION ${NS_INSTALL_LIBDIR} COMPONENT ${backend})
endforeach()

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "nightshift")
set(CPACK_PACKAGE_VENDOR "nightshift")
set(CPACK_PACKAGE_CONTACT "nightshift maintainers <nightshift@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Batch inference over Parquet, CSV and JSONL with resumable, exactly-once output")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL nightshift)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE "amd64")
set(CPACK_DEBIAN_COMPRESSION_TYPE "gzip")
set(CPACK_DEBIAN_PACKAGE_SECTION "science")
# Dependencies are listed, not computed by dpkg-shlibdeps (which cannot vouch for
# the bundled ONNX Runtime and DuckDB); tests/e2e/test_package.py checks that every
# library the installed binary needs is bundled or comes from a package named here.
set(CPACK_DEBIAN_NIGHTSHIFT_PACKAGE_NAME "nightshift")
set(CPACK_DEBIAN_NIGHTSHIFT_FILE_NAME "nightshift_${PROJECT_VERSION}_amd64.deb")
set(CPACK_DEBIAN_NIGHTSHIFT_PACKAGE_DEPENDS
    "libc6 (>= 2.34), libstdc++6 (>= 12), libgcc-s1, libyaml-cpp0.7, libsqlite3-0, libpq5, libssl3, libfmt9, libdate-tz3, tzdata, libutf8proc2, libprometheus-cpp-core1.0, libprometheus-cpp-pull1.0, zlib1g, libturbojpeg0, libjpeg62-turbo, libpng16-16, libwebp7, libwebpdemux2, libpoppler-cpp0v5")
foreach(module ${NS_BACKEND_MODULES})
  string(REGEX REPLACE "^nightshift_" "" backend ${module})
  string(TOUPPER ${backend} up)
  list(APPEND CPACK_COMPONENTS_ALL ${backend})
  set(CPACK_DEBIAN_${up}_PACKAGE_NAME "nightshift-${backend}")
  set(CPACK_DEBIAN_${up}_FILE_NAME "nightshift-${backend}_${PROJECT_VERSION}_amd64.deb")
endforeach()
set(CPACK_DEBIAN_TORCHSCRIPT_PACKAGE_DEPENDS "nightshift (= ${PROJECT_VERSION}), libtorch1.13")
set(CPACK_DEBIAN_XGBOOST_PACKAGE_DEPENDS "nightshift (= ${PROJECT_VERSION}), libxgboost0")
set(CPACK_DEBIAN_SENTENCEPIECE_PACKAGE_DEPENDS "nightshift (= ${PROJECT_VERSION}), libsentencepiece0")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
include(CPack)
