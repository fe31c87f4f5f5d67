// Module names (files vs built-ins) and CommonJS interop in js::Bundle.
#include "js/commonjs.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "js/bundle.h"
#include "js/runtime.h"

namespace herd::js {
namespace {

namespace fs = std::filesystem;

TEST(ModuleNames, OnlyK6AndHerdSpecifiersAreBuiltIns) {
  EXPECT_TRUE(is_builtin_specifier("k6"));
  EXPECT_TRUE(is_builtin_specifier("k6/http"));
  EXPECT_TRUE(is_builtin_specifier("herd:x"));
  EXPECT_FALSE(is_builtin_specifier("k6-utils.js"));
  EXPECT_FALSE(is_builtin_specifier("./k6/http"));
  EXPECT_FALSE(is_builtin_specifier("/k6/a.js"));
}

TEST(ModuleNames, FilesThatWouldReadAsBuiltInsGetADotSlash) {
  EXPECT_EQ(file_module_name("k6/foundations/01.basic.js"), "./k6/foundations/01.basic.js");
  EXPECT_EQ(file_module_name("./k6/a/../b.js"), "./k6/b.js");
  EXPECT_EQ(file_module_name("tests/k6/x.js"), "tests/k6/x.js");
  EXPECT_EQ(file_module_name("/abs/k6/x.js"), "/abs/k6/x.js");
  EXPECT_EQ(file_module_name("-"), "-");

  Bundle b("k6/tests/main.js", {{"k6/metrics", "export default {};"}});
  EXPECT_EQ(b.main_name(), "./k6/tests/main.js");
  EXPECT_EQ(b.resolve(b.main_name(), "./lib.js"), "./k6/tests/lib.js");
  EXPECT_EQ(b.resolve(b.main_name(), "../k6.js"), "./k6/k6.js");
  EXPECT_EQ(b.resolve(b.main_name(), "../../k6.js"), "k6.js");
  EXPECT_EQ(b.resolve(b.main_name(), "k6/metrics"), "k6/metrics");
  EXPECT_EQ(b.resolve(b.main_name(), "k6/unknown.js"), "k6/unknown.js");  // a built-in specifier (then unknown)
  // open() paths are files even when they start with k6/.
  EXPECT_EQ(b.resolve_file("main.js", "k6/data.csv"), "./k6/data.csv");
}

class CommonJsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("herd-cjs-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& rel, const std::string& text) {
    fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  /// Evaluates the bundle's main module in a fresh runtime and returns String(ns[key]).
  static std::string eval_export(Bundle& b, const std::string& key) {
    Runtime rt;
    b.install(rt.rt());
    JSValue ns = b.evaluate_main(rt.ctx());
    JSValue v = JS_GetPropertyStr(rt.ctx(), ns, key.c_str());
    std::string s = to_string(rt.ctx(), v);
    JS_FreeValue(rt.ctx(), v);
    JS_FreeValue(rt.ctx(), ns);
    return s;
  }
  /// The message of the ScriptError that evaluating main throws ("" if none).
  static std::string load_error(Bundle& b) {
    Runtime rt;
    b.install(rt.rt());
    try {
      JS_FreeValue(rt.ctx(), b.evaluate_main(rt.ctx()));
    } catch (const ScriptError& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};

TEST_F(CommonJsTest, DefaultNamedAndNamespaceImports) {
  write("plain.js", "globalThis.runs = (globalThis.runs || 0) + 1;\nexports.a = 1;\nmodule.exports.b = 'two';\n");
  write("fn.js", "module.exports = function () { return 'called'; };\nmodule.exports.tag = 't';\n");
  write("other.js", "import { a } from './plain.js';\nexport const viaOther = a;\n");
  std::string main = write("main.js",
                           "import p, { a, b } from './plain.js';\n"
                           "import * as ns from './plain.js';\n"
                           "import f, { tag } from './fn.js';\n"
                           "import { viaOther } from './other.js';\n"
                           "export const out = [a, b, p.a, ns.b, ns.default === p, f(), tag, viaOther, globalThis.runs]"
                           ".join(',');\n");
  Bundle b(main, {});
  EXPECT_EQ(eval_export(b, "out"), "1,two,1,two,true,called,t,1,1");
}

TEST_F(CommonJsTest, BundlerShapes) {
  // Getters declared before the values exist, a non-enumerable __esModule and an own default.
  write("esbuild.js",
        "'use strict';\n"
        "var defs = {};\n"
        "for (const [k, get] of Object.entries({ default: () => dflt, hello: () => hello }))\n"
        "  Object.defineProperty(defs, k, { get, enumerable: true });\n"
        "module.exports = Object.defineProperty(defs, '__esModule', { value: true });\n"
        "var hello = 'hi';\nvar dflt = { kind: 'default object' };\n");
  write("umd.js",
        "(function (root, factory) {\n"
        "  if (typeof exports === 'object' && typeof module === 'object') module.exports = factory();\n"
        "  else root.Lib = factory();\n"
        "})(this, function () { return { umd: true }; });\n");
  std::string main = write("main.js",
                           "import d, { hello } from './esbuild.js';\n"
                           "import * as ns from './esbuild.js';\n"
                           "import u from './umd.js';\n"
                           "export const out = [d.kind, hello, '__esModule' in ns, u.umd].join(',');\n");
  Bundle b(main, {});
  EXPECT_EQ(eval_export(b, "out"), "default object,hi,false,true");
}

TEST_F(CommonJsTest, CompiledOnceForEveryRuntime) {
  write("lib.js", "exports.v = 1;\n");
  std::string main = write("main.js", "import { v } from './lib.js';\nexport const out = v;\n");
  Bundle b(main, {});
  EXPECT_EQ(eval_export(b, "out"), "1");
  write("lib.js", "exports.v = 2;\n");  // a second runtime reads the bytecode, not the disk
  EXPECT_EQ(eval_export(b, "out"), "1");
}

TEST_F(CommonJsTest, ErrorsNameFileLineColumn) {
  write("throws.js", "exports.a = 1;\n\n  throw new Error('top-level boom');\n");
  Bundle b(write("main.js", "import { a } from './throws.js';\nexport const out = a;\n"), {});
  std::string err = load_error(b);
  EXPECT_NE(err.find("throws.js:3:"), std::string::npos) << err;
  EXPECT_NE(err.find("top-level boom"), std::string::npos) << err;

  write("syntax.js", "exports.a = 1;\nvar = 2;\n");
  Bundle b2(write("main2.js", "import { a } from './syntax.js';\nexport const out = a;\n"), {});
  err = load_error(b2);
  EXPECT_NE(err.find("syntax.js:2:5: SyntaxError"), std::string::npos) << err;
  EXPECT_EQ(err.find("ReferenceError"), std::string::npos) << "the compiler's own error, not a wrapper" << err;

  // A broken ES module reports the module compiler's error, not the CommonJS one.
  write("esm.js", "export const a = ;\n");
  Bundle b3(write("main3.js", "import { a } from './esm.js';\nexport const out = a;\n"), {});
  err = load_error(b3);
  EXPECT_NE(err.find("esm.js:1:18"), std::string::npos) << err;
}

TEST_F(CommonJsTest, TypeScriptIsRefused) {
  write("types.ts", "export const n: number = 1;\n");
  Bundle b(write("main.js", "import { n } from './types.ts';\nexport const out = n;\n"), {});
  std::string err = load_error(b);
  EXPECT_NE(err.find("types.ts: TypeScript is not supported yet"), std::string::npos) << err;
  EXPECT_EQ(err.find("missing initializer"), std::string::npos) << err;
}

TEST_F(CommonJsTest, ScriptInAK6FolderIsAFile) {
  write("k6/foundations/lib.js", "exports.where = 'k6 folder';\n");
  write("k6/foundations/01.basic.js", "import { where } from './lib.js';\nexport const out = where;\n");
  fs::path old = fs::current_path();
  fs::current_path(dir_);
  Bundle b("k6/foundations/01.basic.js", {});
  std::string out = eval_export(b, "out");
  fs::current_path(old);
  EXPECT_EQ(out, "k6 folder");
  auto files = b.loaded_files();
  EXPECT_TRUE(files.count("k6/foundations/lib.js")) << "loaded_files keys are plain paths";
}

TEST_F(CommonJsTest, InMemoryFilesUnderAK6FolderAsFromAnArchive) {
  // Nothing on disk: names given to add_file match the names imports resolve to.
  Bundle b("k6/t.js", {});
  b.add_file("k6/t.js", "import { v } from './lib.js';\nexport const out = v;\n");
  b.add_file("./k6/lib.js", "exports.v = 'from memory';\n");
  EXPECT_EQ(eval_export(b, "out"), "from memory");
}

}  // namespace
}  // namespace herd::js
