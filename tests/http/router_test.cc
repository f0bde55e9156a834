// Routing, decoding, middleware and static files, dispatched without a socket.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "http/http_internal.h"
#include "http/server.h"

namespace sluice::http {
namespace {

namespace fs = std::filesystem;

Request make(Method m, std::string target, std::string body = "") {
  Request r;
  r.method = m;
  r.method_text = std::string(method_name(m));
  r.target = target;
  auto q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = *detail::parse_query(target.substr(q + 1));
  r.body = std::move(body);
  return r;
}

TEST(PercentDecode, DecodesAndRejectsMalformed) {
  EXPECT_EQ(*detail::percent_decode("a%20b%2Fc", false), "a b/c");
  EXPECT_EQ(*detail::percent_decode("a+b", false), "a+b");
  EXPECT_EQ(*detail::percent_decode("a+b", true), "a b");
  EXPECT_FALSE(detail::percent_decode("%G1", false));
  EXPECT_FALSE(detail::percent_decode("abc%", false));
  EXPECT_FALSE(detail::percent_decode("abc%4", false));
  EXPECT_EQ(*detail::percent_decode("%41", false), "A");
}

TEST(ParseQuery, PairsFlagsAndEscapes) {
  auto q = *detail::parse_query("permanent=true&x=a%26b&flag&&y=");
  EXPECT_EQ(q["permanent"], "true");
  EXPECT_EQ(q["x"], "a&b");
  EXPECT_EQ(q["flag"], "");
  EXPECT_EQ(q["y"], "");
  EXPECT_FALSE(detail::parse_query("a=%zz"));
}

TEST(Pattern, MatchesParamsAndRest) {
  auto p = detail::parse_pattern("/subjects/{subject}/versions/{version}");
  std::map<std::string, std::string> params;
  EXPECT_TRUE(detail::match_pattern(p, detail::split_path("/subjects/a%2Fb/versions/3"), params));
  EXPECT_EQ(params["subject"], "a/b");
  EXPECT_EQ(params["version"], "3");
  params.clear();
  EXPECT_FALSE(detail::match_pattern(p, detail::split_path("/subjects/a/versions"), params));
  EXPECT_FALSE(detail::match_pattern(p, detail::split_path("/subjects/a/versions/3/x"), params));
  EXPECT_FALSE(detail::match_pattern(p, detail::split_path("/subjects//versions/3"), params));
  auto rest = detail::parse_pattern("/ui/{file...}");
  EXPECT_TRUE(detail::match_pattern(rest, detail::split_path("/ui/js/app.js"), params));
  EXPECT_EQ(params["file"], "js/app.js");
  EXPECT_TRUE(detail::match_pattern(rest, detail::split_path("/ui"), params));
  EXPECT_EQ(params["file"], "");
  EXPECT_THROW(detail::parse_pattern("/a/{x...}/b"), std::invalid_argument);
  EXPECT_THROW(detail::parse_pattern("nope"), std::invalid_argument);
}

TEST(Mime, CommonTypes) {
  EXPECT_EQ(detail::mime_type("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(detail::mime_type("a/b/app.JS"), "text/javascript; charset=utf-8");
  EXPECT_EQ(detail::mime_type("style.css"), "text/css; charset=utf-8");
  EXPECT_EQ(detail::mime_type("logo.svg"), "image/svg+xml");
  EXPECT_EQ(detail::mime_type("font.woff2"), "font/woff2");
  EXPECT_EQ(detail::mime_type("data.json"), "application/json");
  EXPECT_EQ(detail::mime_type("blob"), "application/octet-stream");
  EXPECT_EQ(detail::mime_type("x.unknownext"), "application/octet-stream");
}

TEST(Router, ParamsMethodsAnd404And405) {
  Router r;
  r.get("/subjects/{subject}/versions/{version}", [](Request& q) {
    return Response::json(200, {{"s", q.param("subject")}, {"v", q.param("version")}});
  });
  r.get("/subjects/{subject}/versions/latest",
        [](Request&) { return Response::text(200, "literal wins"); });
  r.post("/subjects/{subject}/versions", [](Request& q) {
    auto j = q.json();
    if (!j.is_ok()) return Response::error(400, j.status().message());
    return Response::json(200, {{"got", (*j)["x"]}});
  });
  auto a = make(Method::kGet, "/subjects/orders-value/versions/3");
  auto res = r.dispatch(a, nullptr);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, R"({"s":"orders-value","v":"3"})");
  EXPECT_EQ(res.content_type, "application/json");

  auto l = make(Method::kGet, "/subjects/x/versions/latest");
  EXPECT_EQ(r.dispatch(l, nullptr).body, "literal wins");

  auto p = make(Method::kPost, "/subjects/x/versions", R"({"x": 5})");
  EXPECT_EQ(r.dispatch(p, nullptr).body, R"({"got":5})");
  auto bad = make(Method::kPost, "/subjects/x/versions", "{nope");
  auto bad_res = r.dispatch(bad, nullptr);
  EXPECT_EQ(bad_res.status, 400);
  EXPECT_NE(bad_res.body.find("not valid JSON"), std::string::npos);

  auto nf = make(Method::kGet, "/nothing");
  auto nf_res = r.dispatch(nf, nullptr);
  EXPECT_EQ(nf_res.status, 404);
  EXPECT_EQ(nf_res.body, R"({"error_code":404,"message":"no such resource: /nothing"})");

  auto m = make(Method::kDelete, "/subjects/x/versions");
  auto m_res = r.dispatch(m, nullptr);
  EXPECT_EQ(m_res.status, 405);
  ASSERT_EQ(m_res.headers.size(), 1u);
  EXPECT_EQ(m_res.headers[0].first, "Allow");
  EXPECT_EQ(m_res.headers[0].second, "POST");

  auto h = make(Method::kHead, "/subjects/a/versions/1");
  EXPECT_EQ(r.dispatch(h, nullptr).status, 200);
}

TEST(Router, CustomErrorResponderAndHandlerException) {
  Router r;
  r.get("/boom", [](Request&) -> Response { throw std::runtime_error("kaput"); });
  ErrorResponder errors = [](int status, std::string_view msg) {
    return Response::json(status, {{"code", status * 100 + 1}, {"msg", msg}});
  };
  auto b = make(Method::kGet, "/boom");
  auto res = r.dispatch(b, errors);
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.body, R"({"code":50001,"msg":"internal error: kaput"})");
  auto n = make(Method::kGet, "/none");
  EXPECT_EQ(r.dispatch(n, errors).body, R"({"code":40401,"msg":"no such resource: /none"})");
}

TEST(Router, MiddlewareRunsOutermostFirstAndCanReject) {
  Router r;
  std::string trace;
  r.get("/api/data", [&](Request& q) {
    trace += "handler(" + q.context["user"] + ")";
    return Response::text(200, "data");
  });
  r.use([&](Request& q, const Handler& next) {
    trace += "auth>";
    if (q.header("Authorization") != "Bearer ok") return Response::error(401, "log in first");
    q.context["user"] = "ana";
    Response res = next(q);
    res.set_header("Set-Cookie", "session=1; HttpOnly; SameSite=Strict");
    return res;
  });
  r.use([&](Request& q, const Handler& next) {
    trace += "inner>";
    return next(q);
  });
  auto denied = make(Method::kGet, "/api/data");
  EXPECT_EQ(r.dispatch(denied, nullptr).status, 401);
  EXPECT_EQ(trace, "auth>");
  trace.clear();
  auto ok = make(Method::kGet, "/api/data");
  ok.headers.emplace_back("authorization", "Bearer ok");
  auto res = r.dispatch(ok, nullptr);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(trace, "auth>inner>handler(ana)");
  ASSERT_EQ(res.headers.size(), 1u);
  EXPECT_EQ(res.headers[0].second, "session=1; HttpOnly; SameSite=Strict");
}

class StaticFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("sluice_http_static_" + std::to_string(::getpid()));
    fs::remove_all(base_);
    fs::create_directories(base_ / "www" / "js");
    fs::create_directories(base_ / "www2");
    std::ofstream(base_ / "www" / "index.html") << "<h1>console</h1>";
    std::ofstream(base_ / "www" / "js" / "app.js") << "console.log(1)";
    std::ofstream(base_ / "secret.txt") << "secret";
    std::ofstream(base_ / "www2" / "other.txt") << "other";
    fs::create_symlink(base_ / "secret.txt", base_ / "www" / "link.txt");
    router_.static_files("/ui", base_ / "www");
  }
  void TearDown() override { fs::remove_all(base_); }

  Response get(const std::string& target, std::string if_none_match = "") {
    auto r = make(Method::kGet, target);
    if (!if_none_match.empty()) r.headers.emplace_back("If-None-Match", if_none_match);
    return router_.dispatch(r, nullptr);
  }

  fs::path base_;
  Router router_;
};

TEST_F(StaticFiles, ServesFilesWithTypesAndIndex) {
  auto js = get("/ui/js/app.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "console.log(1)");
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  auto index = get("/ui/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(get("/ui").body, "<h1>console</h1>");
  EXPECT_EQ(get("/ui/missing.css").status, 404);
}

TEST_F(StaticFiles, ETagRevalidation) {
  auto first = get("/ui/index.html");
  std::string etag;
  for (auto& [k, v] : first.headers)
    if (k == "ETag") etag = v;
  ASSERT_FALSE(etag.empty());
  auto again = get("/ui/index.html", etag);
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
}

TEST_F(StaticFiles, NoTraversal) {
  EXPECT_EQ(get("/ui/../secret.txt").status, 404);
  EXPECT_EQ(get("/ui/%2e%2e/secret.txt").status, 404);
  EXPECT_EQ(get("/ui/js/%2E%2E/%2E%2E/secret.txt").status, 404);
  EXPECT_EQ(get("/ui/..%2fsecret.txt").status, 404);
  EXPECT_EQ(get("/ui/%2Fetc%2Fpasswd").status, 404);
  EXPECT_EQ(get("/ui/..%5csecret.txt").status, 404);
  EXPECT_EQ(get("/ui/a%00b").status, 404);
  EXPECT_EQ(get("/ui/link.txt").status, 404);  // a symlink out of the root
  EXPECT_EQ(get("/ui/../www2/other.txt").status, 404);
  EXPECT_FALSE(detail::resolve_static_path(base_ / "www", "../www2/other.txt"));
  EXPECT_TRUE(detail::resolve_static_path(base_ / "www", "js/app.js"));
}

}  // namespace
}  // namespace sluice::http
