// k6/html through the real binary: parseHTML, selectors and Selection/Element
// methods, Response.html(), and submitForm/clickLink against the target's
// HTML routes (login form with a CSRF token, link pages).
#include "harness.h"

namespace herd::it {
namespace {

class HtmlTest : public HerdTest {};

const char* kPage = R"JS(
const page = `<!DOCTYPE html><html><head><title>Shop</title></head><body>
<div id="main" class="box wide" data-count="3" data-ratio="1.5" data-on="true" data-cfg='{"a":[1,2]}' data-user-name="ann">
  <h1>Items</h1>
  <ul class="items">
    <li class="item first" data-id="1">apple</li>
    <li class="item" data-id="2"><a href="/p/2" title="Second item">banana</a></li>
    <li class="item last" data-id="3">cherry <b>ripe</b></li>
  </ul>
  <p lang="en-GB">text &amp; more</p>
  <!-- a comment -->
</div>
<form id="f" action="/echo" method="post">
  <input type="hidden" name="token" value="t0k">
  <input name="q" value="two words">
  <input type="checkbox" name="c" value="yes" checked>
  <input type="checkbox" name="c" value="no">
  <input type="radio" name="r" value="a"><input type="radio" name="r" value="b" checked>
  <input name="off" value="x" disabled>
  <select name="one"><option value="1">One</option><option value="2" selected>Two</option></select>
  <select name="many" multiple><option selected>m1</option><option>m2</option><option selected>m3</option></select>
  <select name="none"><option>first</option><option>second</option></select>
  <textarea name="t">hello
there</textarea>
  <input type="submit" name="go" value="Go">
</form>
</body></html>`;
)JS";

TEST_F(HtmlTest, SelectorsAndSelectionMethods) {
  ProcResult r;
  json exp = run_export(std::string(R"JS(
import { check } from 'k6';
import { parseHTML } from 'k6/html';
import html from 'k6/html';
export const options = { iterations: 1 };
)JS") + kPage + R"JS(
export default function () {
  const doc = parseHTML(page);
  const li = doc.find('li');
  check(doc, {
    'default export': () => html.parseHTML('<p>x</p>').find('p').text() === 'x',
    'find size': () => li.size() === 3,
    'type id class': () => doc.find('ul.items > li#nope').size() === 0 && doc.find('#main h1').text() === 'Items',
    'attribute ops': () => doc.find('[data-id="2"] a[href^="/p"][title*=cond][title$=item]').text() === 'banana',
    'word and dash': () => doc.find('[class~=wide]').size() === 1 && doc.find('[lang|=en]').text() === 'text & more',
    'combinators': () => doc.find('h1 + ul li:nth-child(2) ~ li').text() === 'cherry ripe',
    'selector list in doc order': () => doc.find('h1, b').map((i, s) => s.text()).join('|') === 'Items|ripe',
    'first/last/nth': () => doc.find('li:first-child').text() === 'apple' && doc.find('li:last-child').attr('data-id') === '3' &&
      doc.find('li:nth-child(odd)').size() === 2 && doc.find('li:nth-child(even)').text() === 'banana',
    'not and contains': () => doc.find('li:not(.first):not(.last)').text() === 'banana' &&
      doc.find('li:contains("cher")').attr('data-id') === '3',
    'eq first last slice': () => li.eq(1).text() === 'banana' && li.eq(-1).attr('data-id') === '3' &&
      li.first().text() === 'apple' && li.last().attr('data-id') === '3' && li.slice(1).size() === 2 && li.slice(0, 1).text() === 'apple',
    'filter selector and function': () => li.filter('.last').size() === 1 &&
      li.filter((i, s) => s.attr('data-id') !== '2').size() === 2,
    'is not has': () => li.is('.first') === true && li.eq(1).is('.first') === false && li.not('.item').size() === 0 &&
      li.has('a').attr('data-id') === '2',
    'children contents': () => doc.find('ul').children().size() === 3 && doc.find('ul').children('.last').size() === 1 &&
      doc.find('li.last').contents().size() === 2,
    'parent parents closest': () => doc.find('b').parent().attr('data-id') === '3' &&
      doc.find('b').parents().size() === 5 && doc.find('b').parents('div').attr('id') === 'main' &&
      doc.find('b').closest('.box').attr('id') === 'main' && doc.find('b').parentsUntil('#main').size() === 2,
    'next prev siblings': () => li.first().next().text() === 'banana' && li.first().nextAll().size() === 2 &&
      li.last().prev().text() === 'banana' && li.last().prevAll().size() === 2 && li.eq(1).siblings().size() === 2 &&
      li.first().nextUntil('.last').size() === 1 && li.last().prevUntil('.first').size() === 1,
    'attr missing and default': () => li.first().attr('nope') === undefined && li.first().attr('nope', 'd') === 'd',
    'text and html': () => doc.find('p').text() === 'text & more' && doc.find('li.last').html() === 'cherry <b>ripe</b>' &&
      doc.find('nothing').html() === undefined,
    'each gives elements': () => { const ids = []; li.each((i, el) => ids.push(i + ':' + el.getAttribute('data-id'))); return ids.join(',') === '0:1,1:2,2:3'; },
    'map gives selections': () => li.map((i, s) => s.attr('data-id')).join('') === '123',
    'get and toArray': () => li.get(0).textContent() === 'apple' && li.get(-1).getAttribute('data-id') === '3' &&
      li.get(9) === undefined && li.toArray().length === 3 && li.toArray()[1].text() === 'banana',
    'index': () => li.eq(2).index() === 2 && li.index(li.get(1)) === 1 && doc.find('li.last').index('li') === 2,
    'end and add': () => doc.find('ul').find('li').end().is('ul') && li.first().add('h1').size() === 2 &&
      li.first().add(doc.find('b')).text() === 'appleripe',
    'data conversions': () => { const m = doc.find('#main'); return m.data('count') === 3 && m.data('ratio') === 1.5 &&
      m.data('on') === true && m.data('cfg').a[1] === 2 && m.data('userName') === 'ann' && m.data('missing') === undefined &&
      m.data().userName === 'ann'; },
    'val': () => doc.find('[name=q]').val() === 'two words' && doc.find('[name=one]').val() === '2' &&
      doc.find('[name=many]').val().join(',') === 'm1,m3' && doc.find('[name=none]').val() === 'first' &&
      doc.find('textarea').val() === 'hello\nthere' && doc.find('[name=one] option').first().val() === '1' &&
      doc.find('#nothing').val() === undefined,
    'serialize': () => doc.find('#f').serialize() ===
      'token=t0k&q=two+words&c=yes&r=b&one=2&many=m1&many=m3&none=first&t=hello%0Athere',
    'serializeArray': () => { const a = doc.find('#f').serializeArray(); return a.length === 9 && a[1].name === 'q' && a[1].value === 'two words'; },
    'serializeObject': () => { const o = doc.find('#f').serializeObject(); return o.q === 'two words' && o.many.join() === 'm1,m3' && !('off' in o) && !('go' in o); },
  });
  try { doc.find('li:bogus'); } catch (e) { console.log('BAD ' + e.name + ': ' + e.message); }
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 27);
  EXPECT_NE(
      r.err.find("BAD SyntaxError: invalid selector \\\"li:bogus\\\" at offset 2: unsupported pseudo-class :bogus"),
      std::string::npos)
      << r;
}

TEST_F(HtmlTest, ElementAccessors) {
  ProcResult r;
  json exp = run_export(std::string(R"JS(
import { check } from 'k6';
import { parseHTML, NodeType } from 'k6/html';
export const options = { iterations: 1 };
)JS") + kPage + R"JS(
export default function () {
  const doc = parseHTML(page);
  const main = doc.find('#main').get(0);
  const a = doc.find('a').get(0);
  const ul = doc.find('ul').get(0);
  check(main, {
    'nodeName nodeType': () => main.nodeName() === 'div' && main.nodeType() === NodeType.ElementNode && main.nodeType() === 1 && main.nodeValue() === null,
    'id className classList': () => main.id() === 'main' && main.className() === 'box wide' && main.classList().join() === 'box,wide',
    'text nodes': () => ul.firstChild().nodeType() === 3 && ul.firstChild().nodeName() === '#text' && ul.firstChild().nodeValue() === '\n    ',
    'innerHTML textContent': () => a.innerHTML() === 'banana' && a.textContent() === 'banana' &&
      doc.find('li.last').get(0).innerHTML() === 'cherry <b>ripe</b>',
    'attributes': () => a.attributes().href.value === '/p/2' && a.getAttribute('title') === 'Second item' &&
      a.getAttribute('nope') === undefined && a.hasAttribute('href') && !a.hasAttribute('x') && a.hasAttributes() &&
      a.getAttributeNode('href').name === 'href',
    'element tree': () => ul.childElementCount() === 3 && ul.firstElementChild().textContent() === 'apple' &&
      ul.lastElementChild().getAttribute('data-id') === '3' && ul.children().length === 3 && ul.childNodes().length === 7 &&
      ul.firstElementChild().nextElementSibling().getAttribute('data-id') === '2' &&
      ul.lastElementChild().previousElementSibling().getAttribute('data-id') === '2' &&
      a.parentElement().nodeName() === 'li' && a.parentNode().nodeName() === 'li' && ul.hasChildNodes(),
    'document': () => main.ownerDocument().nodeName() === '#document' && main.ownerDocument().nodeType() === NodeType.DocumentNode,
    'lang and queries': () => doc.find('p').get(0).lang() === 'en-GB' && main.querySelector('li.last').textContent() === 'cherry ripe' &&
      main.querySelectorAll('li').length === 3 && main.getElementsByTagName('li').length === 3 &&
      main.getElementsByClassName('item last').length === 1 && main.querySelector('table') === undefined,
    'same equal contains': () => main.isSameNode(doc.find('div').get(0)) && !main.isSameNode(ul) &&
      doc.find('li').get(0).isEqualNode(parseHTML('<li class="item first" data-id="1">apple</li>').find('li').get(0)) &&
      main.contains(a) && !a.contains(main) && a.matches('li > a[href]'),
    'selection': () => a.selection().attr('href') === '/p/2',
  });
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 10);
}

TEST_F(HtmlTest, ResponseHtmlAndClickLink) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
export default function () {
  const res = http.get(`${__ENV.BASE_URL}/links`);
  const doc = res.html();
  check(res, {
    'html() parses the body': () => doc.find('a').size() === 4 && doc.find('title').text() === 'Links',
    'html(selector) finds': () => res.html('#rel').attr('href') === 'links/2',
  });
  const first = res.clickLink();
  check(first, {
    'default selector clicks the first link': (r) => r.status === 200 && r.url === `${__ENV.BASE_URL}/links/1` && r.html('h1').text() === 'link 1',
  });
  const rel = res.clickLink({ selector: '#rel', params: { headers: { 'X-From': 'clickLink' } } });
  check(rel, { 'relative href resolved against the response url': (r) => r.url === `${__ENV.BASE_URL}/links/2` && r.html('h1').text() === 'link 2' });
  const back = rel.clickLink({ selector: '#back' });
  check(back, { 'dot-dot href': (r) => r.url === `${__ENV.BASE_URL}/links` });
  const q = res.clickLink({ selector: '#query', params: { headers: { 'X-From': 'clickLink' } } });
  check(q, { 'query and params forwarded': (r) => r.json('args.page') === '3' && r.json('headers.X-From') === 'clickLink' });
  for (const [label, fn] of [['none', () => res.clickLink({ selector: '#none' })], ['missing', () => res.clickLink({ selector: '#missing' })],
                             ['typo', () => res.clickLink({ selectr: 'a' })], ['bad', () => res.clickLink({ selector: 'a[' })]]) {
    try { fn(); console.log('NOERR ' + label); } catch (e) { console.log('ERR ' + label + ' ' + e.message); }
  }
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 6);
  EXPECT_EQ(r.err.find("NOERR"), std::string::npos) << r;
  EXPECT_NE(r.err.find("ERR none clickLink: the element \\\"#none\\\" selected has no href"), std::string::npos) << r;
  EXPECT_NE(r.err.find("ERR missing clickLink: no element found for selector \\\"#missing\\\""), std::string::npos)
      << r;
  EXPECT_NE(r.err.find("ERR typo clickLink: unknown option \\\"selectr\\\""), std::string::npos) << r;
  EXPECT_NE(r.err.find("ERR bad invalid selector"), std::string::npos) << r;
}

TEST_F(HtmlTest, SubmitFormLoginFlowWithCsrfToken) {
  ProcResult r;
  json exp = run_export(R"JS(
import http from 'k6/http';
import { check } from 'k6';
export const options = { iterations: 1 };
export default function () {
  const base = __ENV.BASE_URL;
  let form = http.get(`${base}/login`);
  const token = form.html('input[name=csrf]').val();
  check(form, { 'form carries a token': () => token.length === 32 });

  const bad = form.submitForm({ fields: { username: 'herd', password: 'wrong' } });
  check(bad, { 'wrong password is refused': (r) => r.status === 401 && r.html('.error').text() === 'wrong user or password' });

  form = http.get(`${base}/login`);
  const forged = form.submitForm({ formSelector: '#login', fields: { csrf: 'forged', username: 'herd', password: 's3cret' } });
  check(forged, { 'forged token is refused': (r) => r.status === 403 });

  form = http.get(`${base}/login`);
  const ok = form.submitForm({
    formSelector: 'form#login',
    fields: { username: 'herd', password: 's3cret' },
    submitSelector: 'button[type=submit]',
    params: { tags: { step: 'login' } },
  });
  check(ok, {
    'logged in after the redirect': (r) => r.status === 200 && r.url === `${base}/account` && r.html('#welcome').text() === 'Welcome, herd',
    'session cookie kept': () => http.cookieJar().cookiesForURL(`${base}/account`).session[0] === 'herd',
  });
  const links = ok.clickLink({ selector: '#nav a[href="/links"]' });
  check(links, { 'then follow a link': (r) => r.status === 200 && r.html('a#abs').attr('href') === '/links/1' });

  // what the form sends: a GET form puts fields in the query, a POST form in the body
  const page = http.get(`${base}/links`);
  Object.defineProperty(page, 'body', { value: `<form method="get" action="/echo?old=1"><input name="a" value="1 2"><input type="submit" name="go" value="Go"></form>
    <form id="p" method="post" action="echo"><input name="x" value="y"><input type="checkbox" name="k" value="v" checked><button type="submit">b</button></form>` });
  const g = page.submitForm();
  check(g, { 'GET form: query replaced': (r) => r.json('method') === 'GET' && r.json('query') === 'a=1+2&go=Go' });
  const p = page.submitForm({ formSelector: '#p', fields: { extra: 'e&f' } });
  check(p, { 'POST form: urlencoded body': (r) => r.json('method') === 'POST' && r.json('body') === 'x=y&k=v&extra=e%26f' &&
    r.json('headers.Content-Type') === 'application/x-www-form-urlencoded' && r.url === `${base}/echo` });
  for (const [label, fn] of [['noform', () => page.submitForm({ formSelector: '#nope' })], ['notform', () => page.submitForm({ formSelector: 'input' })],
                             ['typo', () => page.submitForm({ field: {} })]]) {
    try { fn(); console.log('NOERR ' + label); } catch (e) { console.log('ERR ' + label + ' ' + e.message); }
  }
}
)JS",
                        &r);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_ALL_CHECKS_PASS(exp, r, 8);
  EXPECT_EQ(r.err.find("NOERR"), std::string::npos) << r;
  EXPECT_NE(r.err.find("ERR noform submitForm: no form found for selector \\\"#nope\\\""), std::string::npos) << r;
  EXPECT_NE(r.err.find("ERR notform submitForm: \\\"input\\\" selected a <input>, not a <form>"), std::string::npos)
      << r;
  EXPECT_NE(r.err.find("ERR typo submitForm: unknown option \\\"field\\\""), std::string::npos) << r;
}

TEST_F(HtmlTest, UncaughtSelectorErrorNamesTheScriptLine) {
  ProcResult r = run_script(R"JS(
import { parseHTML } from 'k6/html';
export const options = { iterations: 1 };
export default function () {
  parseHTML('<p>x</p>').find('p >');
}
)JS");
  EXPECT_NE(r.err.find("invalid selector"), std::string::npos) << r;
  EXPECT_NE(r.err.find("script.js:5:"), std::string::npos) << r;
}

}  // namespace
}  // namespace herd::it
