'use strict';
// The addon node-gyp built at install (`npm ci` runs this package's install script). Named
// exports, so that ES modules can import them.
const addon = require('./build/Release/aes_gcm.node');

exports.GcmKey = addon.GcmKey;
