'use strict';
// `switchboard -t` on a configuration: validates the file and loads and
// configures every module, without listening. For tests of configuration
// errors a module reports (they stop the server before it would be ready).

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { DEFAULT_CONFIG, mergeConfig, toYaml } = require('./config');

const CHECK_TIMEOUT_MS = 10000;

/**
 * Merges `overrides` into the default test configuration (test_rooms taken
 * from SWITCHBOARD_TEST_MODULES), writes it to a temporary file and runs
 * the binary with -t on it. Resolves with {code, stderr}.
 */
function checkConfig(overrides) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-check-'));
  const file = path.join(dir, 'switchboard.yaml');
  const testRooms = path.join(process.env.SWITCHBOARD_TEST_MODULES, 'test_rooms.so');
  const full = mergeConfig(mergeConfig(DEFAULT_CONFIG, { modules: { test_rooms: { file: testRooms } } }), overrides);
  full.listen = [{ address: '127.0.0.1', port: 1 }];
  fs.writeFileSync(file, toYaml(full));
  return new Promise((resolve, reject) => {
    const child = spawn(process.env.SWITCHBOARD_BIN, ['-t', '-c', file, '--modules-path', process.env.SWITCHBOARD_MODULES], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`switchboard -t did not exit within ${CHECK_TIMEOUT_MS} ms\n${stderr}`));
    }, CHECK_TIMEOUT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      fs.rmSync(dir, { recursive: true, force: true });
      resolve({ code, stderr });
    });
  });
}

module.exports = { checkConfig };
