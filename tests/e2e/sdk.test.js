'use strict';
// The module SDK from a user's side: install the project into a scratch
// root (`meson install --destdir`), build the example modules out of tree
// with nothing but `pkg-config switchboard-module`, load them into the real
// server and use them. Switchboard only; needs SWITCHBOARD_BUILD_DIR.

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { IS_SWITCHBOARD, startServer } = require('./lib/server');
const c = require('./lib/client');

const BUILD = process.env.SWITCHBOARD_BUILD_DIR;
const EXAMPLES = path.join(__dirname, '..', '..', 'plugins-api', 'examples');

function findFile(dir, name) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = findFile(p, name);
      if (found) return found;
    } else if (entry.name === name) {
      return p;
    }
  }
  return null;
}

if (IS_SWITCHBOARD && BUILD) {
  let root;
  let built;
  let pkgEnv;

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-sdk-'));
    execFileSync('meson', ['install', '-C', BUILD, '--destdir', root, '--no-rebuild', '--quiet'], { stdio: 'pipe' });
    const pc = findFile(root, 'switchboard-module.pc');
    assert.ok(pc, 'switchboard-module.pc is installed');
    pkgEnv = { ...process.env, PKG_CONFIG_PATH: path.dirname(pc), PKG_CONFIG_SYSROOT_DIR: root };
    const cflags = execFileSync('pkg-config', ['--cflags', 'switchboard-module'], { env: pkgEnv }).toString().trim().split(/\s+/);
    built = {
      hello: path.join(root, 'hello.so'),
      greeter: path.join(root, 'greeter.so'),
    };
    execFileSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', ...cflags,
      path.join(EXAMPLES, 'hello_c', 'hello.c'), '-o', built.hello], { stdio: 'pipe' });
    execFileSync('c++', ['-std=c++20', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', ...cflags,
      path.join(EXAMPLES, 'greeter_cpp', 'greeter.cpp'), '-o', built.greeter], { stdio: 'pipe' });
  });

  test('the installed tree has the header, the C++ layer and a pkg-config file with moduledir', () => {
    assert.ok(findFile(root, 'module.h'));
    assert.ok(findFile(root, 'module.hpp'));
    const moduledir = execFileSync('pkg-config', ['--variable=moduledir', 'switchboard-module'], { env: pkgEnv }).toString().trim();
    assert.match(moduledir, /\/switchboard\/modules$/);
    assert.ok(fs.existsSync(path.join(moduledir, 'echo.so')), `echo.so is installed in ${moduledir}`);
    const cflags = execFileSync('pkg-config', ['--cflags', 'switchboard-module'], { env: pkgEnv }).toString();
    assert.match(cflags, /-fno-gnu-unique/);
    assert.match(cflags, /-fvisibility=hidden/);
  });

  test('out-of-tree modules export only the entry point and no STB_GNU_UNIQUE symbols', () => {
    for (const so of Object.values(built)) {
      const syms = execFileSync('readelf', ['-W', '--dyn-syms', so]).toString();
      assert.doesNotMatch(syms, /UNIQUE/, `${so} has UNIQUE symbols`);
      assert.match(syms, / switchboard_module_entry$/m);
    }
  });

  test('the example modules load into the real server and answer clients', { timeout: 20000 }, async () => {
    const server = await startServer({
      config: {
        modules: {
          hello: { file: built.hello, config: { greeting: 'howdy' } },
          greeter: { file: built.greeter, config: { prefix: 'hey' } },
        },
        namespaces: { '/': { modules: ['echo', 'hello', 'greeter'] }, '/custom': null },
      },
    });
    const a = await c.connectClient(server, { transports: ['websocket'] });
    const b = await c.connectClient(server, { transports: ['polling'] });
    assert.deepEqual(await c.ack(a, 'hello', ['ann']), ['howdy, ann!', 1]);
    assert.deepEqual(await c.ack(b, 'hello', ['bo']), ['howdy, bo!', 2]);
    assert.deepEqual(await c.ack(a, 'greet', ['bob']), ['hey bob']);
    assert.deepEqual(await c.ack(a, 'whoami'), ['bob']);
    assert.deepEqual(await c.ack(b, 'whoami'), [{ ok: false, error: { code: 'NOT_FOUND', message: 'greet first' } }]);
    assert.deepEqual(await c.ack(b, 'greet', [7]), [{ ok: false, error: { code: 'INVALID', message: 'greet takes a name' } }]);
    await c.assertEchoes(a, assert);
  });
}
