// k6/timers, k6/experimental/fs and k6/experimental/csv through the real binary.
// (WebCrypto: webcrypto_test.cc.)
#include "harness.h"

namespace herd::it {
namespace {

class WebApiTest : public HerdTest {};

TEST_F(WebApiTest, TimersModuleExportsTheGlobalTimers) {
  ProcResult r;
  json exp = run_export(R"JS(
import { check } from 'k6';
import timers, { setTimeout as st, clearTimeout as ct, setInterval as si, clearInterval as ci } from 'k6/timers';
export const options = { iterations: 1 };
export default async function () {
  let ticks = 0;
  await new Promise((resolve) => { const id = si(() => { if (++ticks === 3) { ci(id); resolve(); } }, 5); });
  let cancelled = true;
  const t = st(() => { cancelled = false; }, 5);
  ct(t);
  const order = [];
  await new Promise((resolve) => { st((a, b) => { order.push(a + b); resolve(); }, 10, 'x', 'y'); });
  check(null, {
    'same functions as the globals': () => st === globalThis.setTimeout && ci === globalThis.clearInterval &&
      timers.setInterval === globalThis.setInterval && timers.clearTimeout === globalThis.clearTimeout,
    'interval ran three times': () => ticks === 3,
    'cleared timeout never ran': () => cancelled,
    'timeout passes its arguments': () => order.join() === 'xy',
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 4);
}

TEST_F(WebApiTest, FsReadsSeeksAndStatsPerVuPositions) {
  dir_.write("data/bonjour.txt", "Bonjour, tout le monde!\n");
  ProcResult r;
  json exp = run_export(R"JS(
import { check } from 'k6';
import { open, SeekMode } from 'k6/experimental/fs';
import fs from 'k6/experimental/fs';
const file = await open('data/bonjour.txt');
export const options = { vus: 2, iterations: 2 };
async function readAll(f) {
  const buf = new Uint8Array(5);
  let out = '';
  for (;;) {
    const n = await f.read(buf);
    if (n === null) break;
    out += String.fromCharCode(...buf.subarray(0, n));
  }
  return out;
}
export default async function () {
  await file.seek(0, SeekMode.Start);
  const whole = await readAll(file);
  const info = await file.stat();
  const p7 = await file.seek(7, SeekMode.Start);
  const p9 = await file.seek(2, SeekMode.Current);
  const two = new Uint8Array(4);
  const n = await file.read(two);
  const pe = await file.seek(-2, SeekMode.End);
  const tail = await readAll(file);
  check(null, {
    'whole file in 5-byte chunks': () => whole === 'Bonjour, tout le monde!\n',
    'stat': () => info.name === 'bonjour.txt' && info.size === 24,
    'path is absolute': () => file.path.startsWith('/') && file.path.endsWith('/data/bonjour.txt'),
    'seek start/current': () => p7 === 7 && p9 === 9 && n === 4 && String.fromCharCode(...two) === 'tout',
    'seek end': () => pe === 22 && tail === '!\n',
    'SeekMode values': () => SeekMode.Start === 0 && SeekMode.Current === 1 && SeekMode.End === 2 && fs.SeekMode === SeekMode,
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 12);
}

TEST_F(WebApiTest, FsErrorsAreClear) {
  dir_.write("a.txt", "abc");
  ProcResult r = run_script(R"JS(
import { open } from 'k6/experimental/fs';
const file = await open('a.txt');
let missing = '';
try { await open('nope.txt'); } catch (e) { missing = e.name + ' ' + e.message; }
let dir = '';
try { await open('.'); } catch (e) { dir = e.name + ' ' + e.message; }
export const options = { iterations: 1 };
export default async function () {
  console.log('E1 ' + missing);
  console.log('E2 ' + dir);
  try { await file.seek(0, 7); } catch (e) { console.log('E3 ' + e.message); }
  try { await file.read([1, 2]); } catch (e) { console.log('E4 ' + e.message); }
  try { await file.seek(-1, 0); } catch (e) { console.log('E5 ' + e.message); }
  try { await open('a.txt'); } catch (e) { console.log('E6 ' + e.name + ' ' + e.message); }
}
)JS");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.err.find("E1 NotFoundError open(\\\"nope.txt\\\"): cannot read"), std::string::npos) << r;
  EXPECT_NE(r.err.find("E2 InvalidResourceError open(\\\".\\\"): "), std::string::npos) << r;
  EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r;
  EXPECT_NE(r.err.find("E3 File.seek(offset, whence): whence must be"), std::string::npos) << r;
  EXPECT_NE(r.err.find("E4 File.read(buffer): buffer must be a Uint8Array"), std::string::npos) << r;
  EXPECT_NE(r.err.find("E5 File.seek: the resulting offset -1 is negative"), std::string::npos) << r;
  EXPECT_NE(r.err.find("E6 ForbiddenError open() from k6/experimental/fs can only be called in the init context"),
            std::string::npos)
      << r;
}

TEST_F(WebApiTest, FsAndCsvFilesTravelInTheArchive) {
  dir_.write("data/rows.csv", "id,name\n1,ann\n2,\"b, ob\"\n");
  dir_.write("script.js", R"JS(
import { check } from 'k6';
import { open } from 'k6/experimental/fs';
import csv from 'k6/experimental/csv';
const file = await open('data/rows.csv');
const rows = await csv.parse(file, { asObjects: true });
export const options = { iterations: 1 };
export default async function () {
  const info = await file.stat();
  check(null, { 'rows from the archive': () => rows.length === 2 && rows[1].name === 'b, ob' && info.size === 24 });
}
)JS");
  RunSpec arch;
  arch.args = {"archive", "script.js", "-O", "test.tar"};
  ProcResult a = run_spec(arch);
  ASSERT_EQ(a.exit_code, 0) << a;
  std::filesystem::rename(dir_.path() + "/data", dir_.path() + "/data.gone");
  RunSpec run;
  run.args = {"run", "--summary-export", "export.json", "test.tar"};
  ProcResult r = run_spec(run);
  ASSERT_EQ(r.exit_code, 0) << r;
  json exp = json::parse(dir_.read("export.json"));
  EXPECT_ALL_CHECKS_PASS(exp, r, 1);
}

TEST_F(WebApiTest, CsvParseAndParserFollowTheOptions) {
  // Quoted delimiters, doubled quotes, a line break inside a field, CRLF, a blank line.
  dir_.write(
      "users.csv",
      "name,city\r\n\"Doe, Jane\",\"Paris\"\r\nBob,\"said \"\"hi\"\"\"\r\n\r\nAda,\"two\nlines\"\r\nEve,Oslo\r\n");
  dir_.write("semi.csv", "a;b\n1;\"2;3\"\n");
  ProcResult r;
  json exp = run_export(R"JS(
import { check } from 'k6';
import { open } from 'k6/experimental/fs';
import csv from 'k6/experimental/csv';
import { parse, Parser } from 'k6/experimental/csv';
const file = await open('users.csv');
const all = await csv.parse(file);
const objs = await parse(file, { asObjects: true });
const skipped = await csv.parse(file, { skipFirstLine: true });
const window = await csv.parse(file, { fromLine: 2, toLine: 3 });
const semi = await csv.parse(await open('semi.csv'), { delimiter: ';' });
const parser = new Parser(file, { skipFirstLine: true });
const objParser = new csv.Parser(file, { asObjects: true, toLine: 1 });
export const options = { iterations: 1 };
export default async function () {
  const rows = [];
  for (;;) { const { done, value } = await parser.next(); if (done) break; rows.push(value); }
  const o1 = await objParser.next();
  const o2 = await objParser.next();
  let frozen = false;
  try { all[0] = 1; } catch (e) { frozen = true; }
  check(null, {
    'all records': () => all.length === 5 && JSON.stringify(all[0]) === '["name","city"]',
    'quotes and delimiters': () => all[1][0] === 'Doe, Jane' && all[2][1] === 'said "hi"',
    'line break in a field': () => all[3][1] === 'two\nlines' && all[4].join() === 'Eve,Oslo',
    'asObjects': () => objs.length === 4 && objs[0].name === 'Doe, Jane' && objs[3].city === 'Oslo',
    'skipFirstLine': () => skipped.length === 4 && skipped[0][0] === 'Doe, Jane',
    'fromLine/toLine inclusive': () => window.length === 2 && window[0][0] === 'Bob' && window[1][0] === 'Ada',
    'delimiter': () => semi.length === 2 && semi[1][1] === '2;3',
    'parse gives a read-only SharedArray': () => frozen,
    'Parser.next until done': () => rows.length === 4 && rows[3].join() === 'Eve,Oslo',
    'Parser asObjects + toLine': () => !o1.done && o1.value.city === 'Paris' && o2.done && o2.value === undefined,
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 10);
}

TEST_F(WebApiTest, CsvErrorsNameTheProblem) {
  dir_.write("ok.csv", "a,b\n1,2\n");
  dir_.write("bad.csv", "a,b\n1,2\n\"open,3\n");
  dir_.write("ragged.csv", "a,b\n1,2,3\n");
  ProcResult r = run_script(R"JS(
import { open } from 'k6/experimental/fs';
import csv from 'k6/experimental/csv';
const ok = await open('ok.csv');
const msgs = [];
for (const [f, o] of [[ok, { delimiter: ';;' }], [ok, { fromLine: -1 }], [ok, { fromLine: 3, toLine: 1 }],
                      [ok, { delimter: ';' }], [await open('bad.csv'), {}], [await open('ragged.csv'), { asObjects: true }],
                      ['ok.csv', {}]]) {
  try { await csv.parse(f, o); msgs.push('no error'); } catch (e) { msgs.push(e.message); }
}
export const options = { iterations: 1 };
export default function () { msgs.forEach((m, i) => console.log('E' + i + ' ' + m)); }
)JS");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.err.find("E0 csv options: delimiter must be one character"), std::string::npos) << r;
  EXPECT_NE(r.err.find("E1 csv options: fromLine must be a non-negative integer"), std::string::npos) << r;
  EXPECT_NE(r.err.find("E2 csv options: toLine (1) must not be less than fromLine (3)"), std::string::npos) << r;
  EXPECT_NE(r.err.find("E3 csv options: unknown option \\\"delimter\\\""), std::string::npos) << r;
  EXPECT_NE(r.err.find("E4 csv.parse(bad.csv): CSV line 3: a quoted field is not closed"), std::string::npos) << r;
  EXPECT_NE(r.err.find("E5 csv.parse(ragged.csv): CSV record 1 has 3 fields but the header has 2"), std::string::npos)
      << r;
  EXPECT_NE(r.err.find("E6 csv.parse(file, options): the first argument must be a File"), std::string::npos) << r;
}

}  // namespace
}  // namespace herd::it
