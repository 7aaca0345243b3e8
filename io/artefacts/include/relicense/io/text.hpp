// Text and file helpers shared by the artefacts, the engine's request bodies, the CLI and the
// twin: JSON string literals, and replacing a whole file so readers never see half of it.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace relicense::io {

/// Appends `s` as a JSON string literal (quotes included). Invalid UTF-8 bytes become '?', so
/// every file we write parses back, whatever text a server sent.
void append_json_string(std::string& out, std::string_view s);

/// Replaces `path` with `content` atomically: writes a hidden temp file in the same directory
/// (`.<name>.tmp.<pid>`, so collectors that match `*.prom` never read it), fsyncs it and renames
/// it over `path`. Readers see the old file or the new one, never a mix. Throws
/// std::runtime_error naming the file.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

}  // namespace relicense::io
