// A per-test temporary directory, removed with its contents when the object goes away.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace relicense::test {

class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  /// Writes `content` to `name` inside the directory and returns the file's path.
  std::filesystem::path write(std::string_view name, std::string_view content) const;
  /// Reads a whole file.
  static std::string read(const std::filesystem::path& file);

private:
  std::filesystem::path path_;
};

}  // namespace relicense::test
