// Internals of the http module, exposed for its tests: URL decoding, path patterns, MIME types
// and static-file path resolution.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::http::detail {

// RFC 3986 percent-decoding; `plus_is_space` for query strings (application/x-www-form-urlencoded).
// nullopt on a malformed escape ("%G1", a trailing "%").
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

// Splits "a=1&b=x%20y" into decoded pairs; a key without '=' maps to "". nullopt if malformed.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view q);

// "/a/b/" -> {"a", "b", ""}; "/" -> {""}... Only the empty leading segment is dropped, so a
// trailing slash is a (distinct) empty segment, as in most REST routers.
std::vector<std::string_view> split_path(std::string_view path);

struct PatternSegment {
  enum Kind { kLiteral, kParam, kRest } kind;
  std::string text;  // literal text (decoded) or parameter name
};

// Parses "/subjects/{subject}/versions/{version}"; throws std::invalid_argument on a malformed
// pattern (a programmer error).
std::vector<PatternSegment> parse_pattern(std::string_view pattern);

// Matches raw (still encoded) path segments; fills decoded params. False on no match or a bad
// escape.
bool match_pattern(const std::vector<PatternSegment>& pattern,
                   const std::vector<std::string_view>& segments,
                   std::map<std::string, std::string>& params);

// Content type for a file name by extension ("app.js" -> "text/javascript; charset=utf-8").
std::string_view mime_type(std::string_view filename);

// Resolves a decoded relative path under `root`: rejects "..", absolute paths, NUL and
// backslashes, and anything whose canonical location (symlinks followed) is outside the
// canonical root. A folder resolves to its index.html. nullopt if not a regular file inside.
std::optional<std::filesystem::path> resolve_static_path(const std::filesystem::path& root,
                                                         std::string_view relative);

}  // namespace sluice::http::detail
