# Writes OUT, a C file that holds each of the page's files (ASSETS, a list of
# name=path, separated by |) as a NUL-terminated byte array `qs_asset_<name>` with its length
# `qs_asset_<name>_len`; "@QS_VERSION@" in a file becomes VERSION. Run at build
# time by the api layer (CMakeLists.txt), so the files stay plain HTML, CSS
# and JavaScript in src/api/assets/.
string(REPLACE "|" ";" ASSETS "${ASSETS}")
set(code "/* Generated from src/api/assets/ by cmake/embed_assets.cmake: do not edit. */\n#include <stddef.h>\n\n")
foreach(asset ${ASSETS})
  string(REGEX REPLACE "=.*" "" name "${asset}")
  string(REGEX REPLACE "^[^=]*=" "" path "${asset}")
  file(READ "${path}" text)
  string(REPLACE "@QS_VERSION@" "${VERSION}" text "${text}")
  string(LENGTH "${text}" length)
  string(HEX "${text}" hex)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND code "const char qs_asset_${name}[] = {\n  ${bytes}0};\nconst size_t qs_asset_${name}_len = ${length};\n\n")
endforeach()
file(WRITE "${OUT}.tmp" "${code}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
