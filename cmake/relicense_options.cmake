# Warning and sanitizer flags shared by every target of the project.
add_library(relicense_options INTERFACE)
add_library(relicense::options ALIAS relicense_options)
target_compile_options(relicense_options INTERFACE -Wall -Wextra -Wpedantic)
if(RELICENSE_WERROR)
  # GCC 12's -Wmaybe-uninitialized reports false positives inside Boost.Beast's parser once it is
  # inlined (notably under the sanitizers); it stays a warning, not an error.
  # -Wmismatched-new-delete fires on Asio's awaitable coroutine frames once inlined (GCC 12 false
  # positive: the frame's operator new/delete are a matched pair).
  target_compile_options(relicense_options INTERFACE -Werror -Wno-error=maybe-uninitialized
                         -Wno-error=mismatched-new-delete)
endif()
if(RELICENSE_SANITIZE)
  target_compile_options(relicense_options INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(relicense_options INTERFACE -fsanitize=address,undefined)
endif()

# relicense_module(name SOURCES...): one static library per module, alias relicense::name,
# public headers under <name>/include/relicense/<name>/.
function(relicense_module name)
  add_library(relicense_${name} STATIC ${ARGN})
  add_library(relicense::${name} ALIAS relicense_${name})
  target_include_directories(relicense_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(relicense_${name} PUBLIC relicense::options)
endfunction()
