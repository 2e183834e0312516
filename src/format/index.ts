export * from './constants.js';
export * from './header.js';
export * from './bitmap.js';
export * from './directory.js';
export * from './xattr.js';
export * from './inode-fields.js';
export * from './object-headers.js';
export * from './header-template.js';
